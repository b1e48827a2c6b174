"""gunicorn settings for ChatPot's stream process: uvicorn workers serving the ASGI app's
server-sent event streams (chatpot_project/asgi.py). Every value can be overridden from
the environment."""

import os

from chatpot_project.metrics import mark_process_dead

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8001')}")
# One event loop holds thousands of idle streams; a second process is for a second core.
workers = int(os.environ.get("STREAM_CONCURRENCY", "1"))
worker_class = "chatpot_project.stream_worker.StreamWorker"
# Under ASGI each request runs in a thread of its own, which does not come back: its
# database connection is closed when it ends (Django's advice), not kept for reuse.
os.environ["DATABASE_CONN_MAX_AGE"] = "0"
# Streams only: no static files, so no WhiteNoise, the one middleware that needs a thread
# for every request (measured: a tenth of the process's time at 128 players).
os.environ.setdefault("SERVE_STATIC", "0")
preload_app = True
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# Streams never end by themselves: on a restart they are cut after this, and the clients
# (EventSource) connect again.
graceful_timeout = 5
keepalive = 5
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
# A line per request: who, what, its status and time, and its request id (X-Request-ID).
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
# JSON lines, as the app's own, unless LOG_FORMAT=plain (chatpot_project.logs).
if os.environ.get("LOG_FORMAT", "json") == "json":
    logger_class = "chatpot_project.gunicorn_logs.JsonLogger"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def child_exit(server, worker):
    # Its live figures (the streams it held) go with it (chatpot_project.metrics).
    mark_process_dead(worker.pid)
