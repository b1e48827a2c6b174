"""gunicorn settings for ChatPot; every value can be overridden from the environment
(common.environment declares each)."""

import gc
import os

from common.environment import value
from operations.metrics import mark_process_dead

bind = value("GUNICORN_BIND", f"0.0.0.0:{value('PORT')}")
# Measured on 2 cores with PostgreSQL on the same cores (bench/, docs/PERFORMANCE.md):
# single-threaded processes, one per core, sent the most messages per second with the
# lowest tail latency (two per core did no better and spent more CPU on each message:
# more transactions in flight collide on the pot). Connections wait in the listening
# socket's one queue, which every process takes from, instead of queueing behind a busy
# thread of one process; no process waits for another thread's GIL. With the database
# on a host of its own, the processes wait on it more: raise WEB_CONCURRENCY.
workers = value("WEB_CONCURRENCY", len(os.sched_getaffinity(0)))
# With a remote model as the bot, replies wait on the network: give each process threads
# (GUNICORN_THREADS=8, say), which runs gunicorn's threaded worker instead.
threads = value("GUNICORN_THREADS")
worker_class = "gthread" if threads > 1 else "sync"
# The app, its URLconf and every view are loaded once, before the workers are forked
# (chatpot_project/wsgi.py): a new worker answers its first request at full speed.
preload_app = True
timeout = value("GUNICORN_TIMEOUT")
graceful_timeout = 30
keepalive = 5  # the threaded worker's; the single-threaded one answers and closes
accesslog = value("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
# A line per request: who, what, its status and time, and its request id (X-Request-ID).
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
# JSON lines, as the app's own, unless LOG_FORMAT=plain (operations.logs).
if value("LOG_FORMAT", "plain" if value("DEBUG") else "json") == "json":
    logger_class = "operations.gunicorn_logs.JsonLogger"
forwarded_allow_ips = value("FORWARDED_ALLOW_IPS")


def pre_fork(server, worker):
    # The app is loaded: the garbage collector need not scan its long-lived objects again
    # on every collection, nor touch (and so copy) the memory the workers share with the
    # master.
    gc.freeze()


def child_exit(server, worker):
    # Its live figures (the streams it held) go with it (operations.metrics).
    mark_process_dead(worker.pid)
