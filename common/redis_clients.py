"""Clients of the Redis that the cache uses, where the cache is Redis (REDIS_URL): for
throttle counts, and for the text so far of the replies being written (chat.replies)."""

import asyncio
import functools
import os
import threading
import weakref

import redis
import redis.asyncio
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver


@functools.cache
def redis_url() -> str | None:
    """The cache's Redis, if the cache is Redis."""
    cache_settings = settings.CACHES["default"]
    return cache_settings["LOCATION"] if cache_settings["BACKEND"].endswith("RedisCache") else None


@receiver(setting_changed)
def _caches_changed(*, setting: str, **kwargs) -> None:
    """As Django forgets its own caches of a setting that a test changes."""
    if setting == "CACHES":
        redis_url.cache_clear()


def namespace() -> str:
    """A prefix for this app's keys and channels. Channels are shared by every database of
    a Redis server, so the database's number is part of it."""
    db = redis.connection.parse_url(redis_url()).get("db", 0)
    return f"{settings.CACHES['default'].get('KEY_PREFIX', 'chatpot')}:{db}"


_threads = threading.local()


def sync_client() -> "redis.Redis | None":
    """This thread's client, holding one connection, as each thread holds its own database
    connection: no pool to take it from and give it back to on every command. A process
    forked from this one makes its own."""
    url = redis_url()
    if url is None:
        return None
    client = getattr(_threads, "client", None)
    if client is None or _threads.pid != os.getpid():
        client = _threads.client = redis.Redis.from_url(url, single_connection_client=True)
        _threads.pid = os.getpid()
    return client


_loops: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


# A command waits this long for a free connection of its event loop's pool before it fails.
POOL_WAIT_SECONDS = 30


def async_client() -> "redis.asyncio.Redis":
    """This event loop's client. Its pool holds a connection for every reply the worker
    writes at once, and a command that finds none free waits for one: with redis-py's
    default (100 connections, then an error) a worker writing 256 replies ended some of
    them short."""
    loop = asyncio.get_running_loop()
    if (client := _loops.get(loop)) is None:
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            redis_url(),
            max_connections=settings.WORKER_CONCURRENCY + 8,
            timeout=POOL_WAIT_SECONDS,
        )
        client = _loops[loop] = redis.asyncio.Redis(connection_pool=pool)
    return client
