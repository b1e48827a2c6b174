"""GET a URL ten times a second for a while, from a process of its own (so the load
generator beside it does not slow its clock), and print the latencies in ms as JSON.

    python -m bench.probe http://127.0.0.1:8000/api/v1/pot 20
"""

import http.client
import json
import sys
import time
import urllib.parse


def main() -> None:
    url, seconds = sys.argv[1], float(sys.argv[2])
    parts = urllib.parse.urlsplit(url)
    latencies, failures = [], 0
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        started = time.monotonic()
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        try:
            connection.request("GET", parts.path)
            response = connection.getresponse()
            response.read()
            if response.status == 200:
                latencies.append((time.monotonic() - started) * 1000)
            else:
                failures += 1
        except OSError:
            failures += 1
        finally:
            connection.close()
        time.sleep(max(0.0, 0.1 - (time.monotonic() - started)))
    print(json.dumps({"latencies_ms": latencies, "failures": failures}))


if __name__ == "__main__":
    main()
