"""gunicorn's worker for the stream process (gunicorn_stream.conf.py): uvicorn's, holding
at most STREAM_MAX_CONNECTIONS connections at once (beyond, it answers 503 at once)."""

import os

from uvicorn_worker import UvicornWorker


class StreamWorker(UvicornWorker):
    CONFIG_KWARGS = {
        **UvicornWorker.CONFIG_KWARGS,
        "limit_concurrency": int(os.environ.get("STREAM_MAX_CONNECTIONS", "4000")),
    }
