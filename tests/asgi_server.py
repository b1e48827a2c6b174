"""The whole site under a real ASGI server (uvicorn), as `bin/run` serves it: the stand-in
of the real-time engine in front (live.devengine), in a thread of the test process, on the
test's own database."""

import threading
import time

import uvicorn
from django.core.asgi import get_asgi_application

from live.devengine import DevEngine


class ASGILiveServer:
    def __init__(self):
        self.engine = DevEngine(get_asgi_application())
        config = uvicorn.Config(
            self.engine, host="127.0.0.1", port=0, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.publish_url = f"{self.url}/publish"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
