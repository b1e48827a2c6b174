"""gunicorn settings for ChatPot; every value can be overridden from the environment."""

import gc
import os

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Measured on 2 cores (bench/): 2 workers x 2 threads sent the most messages per second.
# With a remote model as the bot, replies wait on the network: raise the threads.
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_worker_init(worker):
    # The app is loaded: the garbage collector need not scan its long-lived objects again
    # on every collection.
    gc.freeze()
