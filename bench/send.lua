-- wrk: POST /api/v1/messages as many players, each request with its own bearer token.
-- Tokens come from the file named by the TOKENS environment variable, one per line.

local tokens = {}
local counter = 0
local thread_index = 0
local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(os.getenv("TOKENS")) do
    if #line > 0 then table.insert(tokens, line) end
  end
  counter = thread_index * 7919
end

local body = '{"body": "what are the odds?"}'

function request()
  counter = counter + 1
  local token = tokens[(counter % #tokens) + 1]
  return wrk.format("POST", "/api/v1/messages", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, body)
end

created = 0
refused = 0  -- 402: a deliberate refusal, not an error
other = 0

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  elseif status == 402 then
    refused = refused + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local lines = {}
  table.insert(lines, string.format("requests=%d", summary.requests))
  table.insert(lines, string.format("duration_us=%d", summary.duration))
  table.insert(lines, string.format("errors_connect=%d", summary.errors.connect))
  table.insert(lines, string.format("errors_read=%d", summary.errors.read))
  table.insert(lines, string.format("errors_write=%d", summary.errors.write))
  table.insert(lines, string.format("errors_status=%d", summary.errors.status))
  table.insert(lines, string.format("errors_timeout=%d", summary.errors.timeout))
  local c, r, o = 0, 0, 0
  for _, thread in ipairs(threads) do
    c = c + thread:get("created")
    r = r + thread:get("refused")
    o = o + thread:get("other")
  end
  table.insert(lines, string.format("created=%d", c))
  table.insert(lines, string.format("refused=%d", r))
  table.insert(lines, string.format("other=%d", o))
  for _, p in ipairs({50, 90, 99}) do
    table.insert(lines, string.format("p%d_us=%d", p, latency:percentile(p)))
  end
  for _, line in ipairs(lines) do io.write("BENCH " .. line .. "\n") end
end
