"""Rate limits, counted in the shared cache so that every process behind the load
balancer counts against the same limit, and shared by both surfaces: the API's DRF
throttles and the pages' forms spend from the same counts (`spend`)."""

import functools
import logging
import math
import time

import redis
from django.core.cache import cache
from django.http import HttpRequest
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from common.errors import RateLimited
from common.redis_clients import redis_url
from common.redis_clients import sync_client as _redis
from operations import metrics

logger = logging.getLogger(__name__)


@functools.cache
def _count_script():
    # INCR, and EXPIRE on the window's first request: one command, atomic in Redis.
    # Each call names the thread's client; the one it is registered with is only a default.
    return _redis().register_script(
        "local count = redis.call('INCR', KEYS[1]) "
        "if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end "
        "return count"
    )


def _uses_redis() -> bool:
    return redis_url() is not None


def count_request(key: str, *, timeout: int) -> int:
    """Count one more request under `key`, atomically, in the shared cache.

    With Redis: one script that increments the count and starts the window's expiry,
    in one round trip. Otherwise the cache's own add and incr (the local-memory cache is
    one process's, and atomic within it).
    """
    client = _redis()
    if client is not None:  # the key is the cache's own, made from ours, which is valid
        try:
            return _count_script()(keys=[cache.make_key(key)], args=[timeout], client=client)
        except redis.RedisError as error:
            # Redis is away (docs/OPERATIONS.md): the game goes on, its limits unkept
            # meanwhile (lock-outs are the database's, and hold).
            logger.warning("Redis did not count %s: %r; let through", key, error)
            return 0
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # the window's key expired between add and incr
        cache.add(key, 1, timeout=timeout)
        return 1


def parse_rate(rate: str) -> tuple[int, int]:
    """'60/min' -> (60, 60): requests, per so many seconds."""
    number, unit = rate.split("/")
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit.strip()[0].lower()]
    return int(number), seconds


def spend(scope: str, identity: str) -> float | None:
    """Count one request of `scope` (a DRF throttle scope: register, token, send) by
    `identity` in the current fixed window; None if it is within the limit, else the
    seconds until the window ends."""
    number, period = parse_rate(api_settings.DEFAULT_THROTTLE_RATES[scope])
    now = time.time()
    window = int(now // period)
    if count_request(f"throttle:{scope}:{identity}:{window}", timeout=period + 1) > number:
        metrics.throttled(scope)
        return (window + 1) * period - now
    return None


# What a page says when one of its forms is over the limit its API twin has.
REFUSALS = {
    "register": "Too many sign-ups from your address.",
    "token": "Too many log-in attempts from your address.",
    "send": "You are sending messages faster than the limit allows.",
}


def limit(scope: str, identity: str) -> None:
    """`spend` for the pages: raise `RateLimited`, saying how long to wait, when over."""
    if (wait := spend(scope, identity)) is None:
        return
    seconds = max(1, math.ceil(wait))
    when = f"{seconds} seconds" if seconds < 90 else f"{math.ceil(seconds / 60)} minutes"
    raise RateLimited(f"{REFUSALS[scope]} Try again in {when}.", retry_after=seconds)


def client_address(request: HttpRequest) -> str:
    """The client's address as the API's throttles see it, past NUM_PROXIES proxies."""
    return BaseThrottle().get_ident(request)


class FixedWindowThrottle(BaseThrottle):
    """At most N requests per window (`spend`), by the identity the subclass names."""

    scope = ""

    def __init__(self):
        self._wait = 0.0

    def identity(self, request) -> str:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        wait = spend(self.scope, self.identity(request))
        self._wait = wait or 0.0
        return wait is None

    def wait(self) -> float:
        return self._wait


class PerAddressThrottle(FixedWindowThrottle):
    def identity(self, request) -> str:
        return client_address(request)


class RegisterThrottle(PerAddressThrottle):
    scope = "register"


class TokenThrottle(PerAddressThrottle):
    scope = "token"


class SendThrottle(FixedWindowThrottle):
    scope = "send"

    def identity(self, request) -> str:
        return str(request.user.pk)
