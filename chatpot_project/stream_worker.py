"""gunicorn's worker for the stream process (gunicorn_stream.conf.py): uvicorn's, holding
at most STREAM_MAX_CONNECTIONS connections at once (beyond, it answers 503 at once), each
request's head bounded in time and size (chatpot_project.http), an idle kept-alive
connection closed after 5 s."""

import os

from uvicorn_worker import UvicornWorker


class StreamWorker(UvicornWorker):
    CONFIG_KWARGS = {
        **UvicornWorker.CONFIG_KWARGS,
        "limit_concurrency": int(os.environ.get("STREAM_MAX_CONNECTIONS", "4000")),
        "http": "chatpot_project.http:BoundedHttpToolsProtocol",
        "timeout_keep_alive": 5,
    }
