"""gunicorn settings for ChatPot; every value can be overridden from the environment."""

import os

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_worker_init(worker):
    # A thread back from the database (holding the pot's lock) should get the interpreter
    # back quickly, not after the default 5 ms slice of a busy neighbour thread.
    import sys

    sys.setswitchinterval(float(os.environ.get("PYTHON_SWITCH_INTERVAL", "0.0005")))
