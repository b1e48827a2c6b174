"""The proxy in front of ChatPot (bin/proxy) bounds what an anonymous client can hold: it
caps the streams per address and in all with a 503 that says so, and closes a request whose
head stops coming."""

import asyncio
import time

import pytest

from tests.engine import Engine, free_port, needs_engine

pytestmark = [pytest.mark.slow]

EVENTS = b"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
HALF_OPEN = b"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"


async def status_of(port: int, request: bytes, *, source: str = "127.0.0.1"):
    """The status a request is answered with, and the connection (held open)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    writer.write(request)
    await writer.drain()
    line = await asyncio.wait_for(reader.readline(), 10)
    return int(line.split()[1]), reader, writer


async def answer_of(reader: asyncio.StreamReader) -> bytes:
    """The rest of what the server says, until it closes the connection (or resets it: nginx
    resets the connections it times out, their memory freed at once)."""
    try:
        return await asyncio.wait_for(reader.read(), 30)
    except ConnectionResetError:
        return b""


@needs_engine
def test_the_proxy_caps_streams_per_address_and_in_all_with_a_503(tmp_path):
    engine = Engine(
        f"127.0.0.1:{free_port()}",  # no web process needed: the engine holds these
        tmp_path / "proxy",
        PROXY_STREAMS_PER_ADDRESS="4",
        PROXY_STREAMS_MAX="10",
    )

    async def scenario():
        held, writers = [], []
        try:
            for _ in range(6):  # one address: 4 held, then refused
                status, reader, writer = await status_of(engine.port, EVENTS)
                held.append(status)
                writers.append(writer)
                if status == 503:  # kept alive: what it says, not its end
                    refusal = await asyncio.wait_for(reader.readuntil(b"}\n"), 10)
            assert held == [200] * 4 + [503] * 2
            assert b"Retry-After: 5" in refusal
            assert b'"code": "unavailable"' in refusal
            # Other addresses are not held back by that one, up to the cap in all.
            others = []
            for number in range(2, 10):
                status, _, writer = await status_of(
                    engine.port, EVENTS, source=f"127.0.0.{number}"
                )
                others.append(status)
                writers.append(writer)
            assert others == [200] * 6 + [503] * 2
            # The pages and the API are not streams: still answered past the cap.
            status, _, _ = await status_of(
                engine.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            assert status == 502  # nginx's own answer: no web process in this test
            # A stream that ends frees its place.
            writers.pop(0).close()
            await asyncio.sleep(0.3)
            status, _, writer = await status_of(engine.port, EVENTS)
            writers.append(writer)
            assert status == 200
        finally:
            for writer in writers:
                writer.close()

    try:
        asyncio.run(scenario())
    finally:
        engine.stop()


@needs_engine
def test_the_proxy_closes_a_request_whose_head_stops_coming(tmp_path):
    engine = Engine(f"127.0.0.1:{free_port()}", tmp_path / "proxy", PROXY_REQUEST_TIMEOUT="1s")

    async def scenario():
        connections = [await asyncio.open_connection("127.0.0.1", engine.port) for _ in range(50)]
        for _, writer in connections[:25]:
            writer.write(HALF_OPEN)  # the rest of the connections send nothing at all
        started = time.monotonic()
        closed = await asyncio.gather(*(answer_of(reader) for reader, _ in connections))
        waited = time.monotonic() - started
        for _, writer in connections:
            writer.close()
        return closed, waited

    try:
        closed, waited = asyncio.run(scenario())
    finally:
        engine.stop()
    assert closed == [b""] * 50  # each closed by the proxy, nothing held
    assert waited < 25  # long before the client's own 30 s would have given up


def from_client(address: str) -> bytes:
    """A stream's request as a load balancer passes it on: the client's address said."""
    return (
        f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: {address}\r\n\r\n"
    ).encode()


@needs_engine
def test_behind_a_trusted_balancer_the_streams_count_by_its_clients_address(tmp_path):
    """PROXY_TRUSTED_FRONT: the balancer's clients each get their own streams; anyone
    else's X-Forwarded-For changes nothing."""
    engine = Engine(
        f"127.0.0.1:{free_port()}",
        tmp_path / "proxy",
        PROXY_STREAMS_PER_ADDRESS="2",
        PROXY_TRUSTED_FRONT="127.0.0.2/32",  # the balancer; 127.0.0.1 is anyone
    )

    async def scenario():
        writers, statuses = [], []
        try:
            for client in ["198.51.100.1"] * 3 + ["198.51.100.2"] * 2:
                status, _, writer = await status_of(
                    engine.port, from_client(client), source="127.0.0.2"
                )
                statuses.append(status)
                writers.append(writer)
            for client in ["198.51.100.3", "198.51.100.4", "198.51.100.5"]:
                status, _, writer = await status_of(engine.port, from_client(client))
                statuses.append(status)
                writers.append(writer)
        finally:
            for writer in writers:
                writer.close()
        return statuses

    try:
        statuses = asyncio.run(scenario())
    finally:
        engine.stop()
    # Through the balancer: two a client, each client its own. From anyone else: what it
    # says is not taken, all count as the one address they come from.
    assert statuses == [200, 200, 503, 200, 200, 200, 200, 503]
