"""A model server for the tests (and the benchmark, bench/replies.py): speaks OpenAI's
streamed chat completions (POST /v1/chat/completions with "stream": true) on 127.0.0.1,
one event loop for any number of streams at once.

    python -m tests.fake_model --port 8081 --words 60 --seconds 2

How it answers is its `behaviour` (tests set it between messages): `stream` (the reply
word by word, spread over `seconds`), `slow-start` (the same after a long first wait),
`break` (half the words, then the connection drops), `reset` (half the words, then the
connection is reset), `error` (500), `garbage` (a few words, then a chunk that is not
JSON), `long-line` (a few words, then a line of 1 MiB), `endless` (words until the client
hangs up), and `whole` (one JSON completion, not streamed).
"""

import argparse
import asyncio
import collections
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

PHRASE = (
    "The pot glimmers in the lantern light and every coin remembers the hand that "
    "dropped it there so speak your mind traveller for the keeper listens to all who "
    "pay the toll and the next message might be the one that tips the scales in your "
    "favour or simply feeds the hoard a little more while the others watch and wonder"
)
WORDS = PHRASE.split()


@dataclass
class Request:
    method: str
    path: str
    headers: dict
    body: dict

    @property
    def asked(self) -> str:
        """The player's message: the last of the conversation sent."""
        messages = self.body.get("messages") or [{}]
        return str(messages[-1].get("content", ""))


@dataclass
class FakeModel:
    behaviour: str = "stream"
    words: int = 12
    seconds: float = 0.6  # for all the words of one reply
    first_wait: float = 1.5  # `slow-start`'s wait before its first word
    text: str = ""  # what to say, word by word, instead of the stock phrase
    requests: list[Request] = field(default_factory=list)
    # When each message's first piece was sent (time.time(), by the message asked).
    first_chunk_at: dict[str, float] = field(default_factory=dict)
    streams: int = 0

    def reply_words(self) -> list[str]:
        if self.text:
            return self.text.split(" ")
        return [WORDS[i % len(WORDS)] for i in range(self.words)]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await _read_request(reader)
            if request.method == "GET" and request.path == "/stats":
                _write_head(writer, 200, "application/json")
                asked = collections.Counter(request.asked for request in self.requests)
                stats = {"first_chunk_at": self.first_chunk_at, "asked": asked}
                writer.write(json.dumps(stats).encode())
                await writer.drain()
                return
            self.requests.append(request)
            await self._answer(request, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _answer(self, request: Request, writer: asyncio.StreamWriter) -> None:
        behaviour = self.behaviour
        if behaviour == "error":
            _write_head(writer, 500, "application/json")
            writer.write(b'{"error": {"message": "the model crashed"}}')
            await writer.drain()
            return
        if behaviour == "whole":
            _write_head(writer, 200, "application/json")
            content = " ".join(self.reply_words())
            answer = {
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]
            }
            writer.write(json.dumps(answer).encode())
            await writer.drain()
            return
        self.streams += 1
        stream = self.streams
        _write_head(writer, 200, "text/event-stream", chunked=True)
        await writer.drain()

        def send(data: bytes) -> None:  # one chunk of the chunked body
            writer.write(b"%x\r\n%s\r\n" % (len(data), data))

        words = self.reply_words()
        pause = self.seconds / max(1, len(words))
        if behaviour == "slow-start":
            await asyncio.sleep(self.first_wait)
        if behaviour in ("break", "reset"):
            words = words[: len(words) // 2]
        if behaviour in ("garbage", "long-line"):
            words = words[:3]
        count = 0
        while behaviour == "endless" or count < len(words):
            word = words[count % len(words)]
            piece = word if count == 0 else f" {word}"
            delta = {"role": "assistant", "content": piece} if count == 0 else {"content": piece}
            chunk = {"id": f"chatcmpl-{stream}", "choices": [{"index": 0, "delta": delta}]}
            send(f"data: {json.dumps(chunk)}\n\n".encode())
            await writer.drain()
            if count == 0:
                self.first_chunk_at[request.asked] = time.time()
            count += 1
            await asyncio.sleep(pause)
        if behaviour == "break":
            writer.transport.abort()  # mid-stream: no [DONE], no orderly end
            return
        if behaviour == "reset":  # mid-stream, a TCP reset (closed at once, lingering 0 s)
            peer = writer.get_extra_info("socket")
            peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return
        if behaviour == "garbage":
            send(b"data: {this is not json\n\n")
        elif behaviour == "long-line":
            send(b"data: " + b"x" * (1 << 20) + b"\n\n")
        else:
            final = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            send(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())
        writer.write(b"0\r\n\r\n")
        await writer.drain()


def _write_head(
    writer: asyncio.StreamWriter, status: int, content_type: str, *, chunked: bool = False
) -> None:
    reason = {200: "OK", 500: "Internal Server Error"}[status]
    framing = "Transfer-Encoding: chunked\r\n" if chunked else ""
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n{framing}"
        "Cache-Control: no-cache\r\nConnection: close\r\n\r\n".encode()
    )


async def _read_request(reader: asyncio.StreamReader) -> Request:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", 0)))
    return Request(method=method, path=path, headers=headers, body=json.loads(body or b"{}"))


class ModelServer:
    """The fake model in a thread of its own, for a test: `base_url`, then `stop()`."""

    def __init__(self, model: FakeModel | None = None):
        self.model = model or FakeModel()
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        self.started.wait(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self.model.handle, "127.0.0.1", 0)
        )
        self.port = self.server.sockets[0].getsockname()[1]
        self.started.set()
        self.loop.run_forever()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        async def close():
            self.server.close()
            for answering in asyncio.all_tasks():  # replies still being written end now
                if answering is not asyncio.current_task():
                    answering.cancel()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--words", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    model = FakeModel(words=args.words, seconds=args.seconds)

    async def serve():
        server = await asyncio.start_server(model.handle, args.host, args.port, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
