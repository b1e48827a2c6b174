"""Without a real-time engine (`bin/run`, the stream process), the app holds the streams
itself, under a real ASGI server: thousands of listeners cost it no thread each, and it
still answers everything else."""

import asyncio
import resource
import time
from pathlib import Path

import httpx
import pytest

from tests.app_process import start_app_server
from tests.engine import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
LISTENERS = 2000

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def threads_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no thread count")


async def listen(port: int, listeners: int, opened: list) -> None:
    """`listeners` clients of the events stream, each holding its connection once the
    stream answered; they are closed when this task is cancelled."""

    async def one():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        status = await reader.readline()
        opened.append(status.split()[1] if status else b"")
        return writer

    writers = []
    try:
        for start in range(0, listeners, 200):  # not all in one instant
            writers += await asyncio.gather(*(one() for _ in range(start, start + 200)))
        await asyncio.Event().wait()
    finally:
        for writer in writers:
            writer.close()


@pytest.fixture
def open_files():
    """Room for the listeners' sockets, in this process and the server it starts."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * LISTENERS + 500
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"needs {wanted} open files; this host allows {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_two_thousand_listeners_hold_no_thread_each(open_files):
    port = free_port()
    server = start_app_server(port, "--limit-concurrency", str(LISTENERS + 100))
    try:
        wait_for_port(port, 30)
        idle = threads_of(server.pid)
        opened: list = []
        loop = asyncio.new_event_loop()
        listening = loop.create_task(listen(port, LISTENERS, opened))
        deadline = time.monotonic() + 60
        while len(opened) < LISTENERS and time.monotonic() < deadline:
            loop.run_until_complete(asyncio.sleep(0.2))
        assert opened.count(b"200") == LISTENERS, set(opened)
        held = threads_of(server.pid)
        # Everything else is still answered while they listen.
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert health.status_code == 200
        assert held <= idle + 16, (idle, held)  # not one per listener
        listening.cancel()
        loop.run_until_complete(asyncio.gather(listening, return_exceptions=True))
        loop.close()
    finally:
        server.terminate()
        server.wait(30)
