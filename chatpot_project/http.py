"""uvicorn's HTTP protocol with the bounds uvicorn lacks, for every ASGI server we ship (the
stream process's workers, chatpot_project.stream_worker, and `bin/run`).

uvicorn times out only an idle kept-alive connection: one that has sent part of a request,
or nothing at all, is held for ever (measured: 1,000 half-open requests were all still held
after 105 s, and with a 1,024 file limit every new connection was refused meanwhile), and
its httptools parser takes headers of any size. Here a request's head (its request line
and headers) must arrive whole within REQUEST_HEAD_TIMEOUT_SECONDS of the connection or of
its first byte, and within REQUEST_HEAD_MAX_BYTES: otherwise the answer is 408 or 431 and
the connection is closed. In front of these servers, nginx does the same
(`client_header_timeout`, `large_client_header_buffers`: deploy/nginx.conf.template).
"""

import asyncio
import os

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEAD_TIMEOUT = float(os.environ.get("REQUEST_HEAD_TIMEOUT_SECONDS", "10"))
HEAD_MAX_BYTES = int(os.environ.get("REQUEST_HEAD_MAX_BYTES", str(64 * 1024)))

REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\ncontent-length: 19\r\n"
    b"connection: close\r\n\r\nRequest timed out.\n"
)
HEAD_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain\r\n"
    b"content-length: 26\r\nconnection: close\r\n\r\nRequest headers too large.\n"
)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """A request's head arrives whole, soon and not too large, or the connection closes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.head_deadline: asyncio.TimerHandle | None = None
        # Bytes received since the last request's head was whole (or the connection came).
        self.head_bytes = 0
        self.reading_head = True

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)
        # A connection that sends nothing is held no longer than a slow request's head.
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        if self.reading_head:
            self.head_bytes += len(data)
            if self.head_bytes > HEAD_MAX_BYTES:
                self._refuse(HEAD_TOO_LARGE)
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.head_deadline is None:  # the next request on a kept-alive connection
            self._arm_head_deadline()

    def on_headers_complete(self) -> None:
        self._disarm_head_deadline()
        self.reading_head = False
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self.reading_head = True  # what comes next is the next request's head
        self.head_bytes = 0

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        self.head_deadline = self.loop.call_later(HEAD_TIMEOUT, self._refuse, REQUEST_TIMEOUT)

    def _disarm_head_deadline(self) -> None:
        if self.head_deadline is not None:
            self.head_deadline.cancel()
            self.head_deadline = None

    def _refuse(self, answer: bytes) -> None:
        self._disarm_head_deadline()
        if not self.transport.is_closing():
            self.transport.write(answer)
            self.transport.close()
