"""A small HTTP/1.1 client on asyncio streams, for the live scenarios: many players and
watchers in one process must cost the machine little, or they would measure themselves
(measured: httpx's client used 11 ms of CPU per message of the model scenario)."""

import asyncio
import json
import urllib.parse


class HTTPError(Exception):
    pass


async def _open(url: str, method: str, headers: dict, body: bytes | None, source: str | None):
    parts = urllib.parse.urlsplit(url)
    local = (source, 0) if source else None
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port, local_addr=local)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.hostname}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))
    await writer.drain()
    status_line = await reader.readline()
    if not status_line:
        writer.close()
        raise HTTPError("no answer")
    status = int(status_line.split()[1])
    response_headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        response_headers[name.strip().lower()] = value.strip()
    return status, response_headers, reader, writer


async def _body(headers: dict, reader: asyncio.StreamReader) -> bytes:
    if headers.get("transfer-encoding") == "chunked":
        return b"".join([chunk async for chunk in _chunks(reader)])
    if "content-length" in headers:
        return await reader.readexactly(int(headers["content-length"]))
    return await reader.read()


async def _chunks(reader: asyncio.StreamReader):
    while True:
        size = int((await reader.readline()).split(b";")[0], 16)
        if size == 0:
            return
        yield await reader.readexactly(size)
        await reader.readexactly(2)


async def request(
    method: str, url: str, *, headers=None, json_body=None, source=None
) -> tuple[int, bytes]:
    """One request; from the local address `source` if given (a client of its own)."""
    body = None
    headers = dict(headers or {})
    if json_body is not None:
        body = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    status, response_headers, reader, writer = await _open(url, method, headers, body, source)
    try:
        return status, await _body(response_headers, reader)
    finally:
        writer.close()


async def events(url: str, *, headers=None, source=None):
    """The (name, data) events of a server-sent event stream, as they come."""
    # As EventSource asks: the real-time engine answers other kinds of subscriber else.
    headers = {"Accept": "text/event-stream", **(headers or {})}
    status, response_headers, reader, writer = await _open(url, "GET", headers, None, source)
    try:
        if status != 200:
            raise HTTPError(f"{status}: {await _body(response_headers, reader)!r}")
        chunked = response_headers.get("transfer-encoding") == "chunked"
        source = _chunks(reader) if chunked else _reads(reader)
        pending, name = b"", None
        async for chunk in source:
            complete, _, pending = (pending + chunk).rpartition(b"\n\n")
            for block in complete.split(b"\n\n"):
                for line in block.split(b"\n"):
                    if line.startswith(b"event:"):
                        name = line[6:].strip().decode()
                    elif line.startswith(b"data:") and name:
                        yield name, line[5:].strip()
                name = None
    finally:
        writer.close()


async def _reads(reader: asyncio.StreamReader):
    while chunk := await reader.read(1 << 16):
        yield chunk
