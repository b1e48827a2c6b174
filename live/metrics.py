"""The live figures an operator watches (operations.metrics): the listeners the engines
hold, read from nchan's status page beside each publisher when Prometheus asks."""

import logging
import urllib.request
from urllib.error import URLError

from django.conf import settings
from prometheus_client.core import GaugeMetricFamily

from operations.metrics import state

logger = logging.getLogger(__name__)


@state
def listeners():
    held = engine_listeners()
    if held is not None:
        yield GaugeMetricFamily(
            "chatpot_live_listeners",
            "Streams the real-time engine holds now (every engine's, added up).",
            value=held,
        )


def engine_listeners() -> int | None:
    """Subscribers the real-time engines hold, from nchan's status page beside each
    publisher (deploy/nginx.conf.template); None without an engine, or if none answers."""
    total, answered = 0, False
    for url in settings.LIVE_PUBLISH_URLS:
        status = url.removesuffix("/publish") + "/status"
        try:
            with urllib.request.urlopen(status, timeout=2) as response:  # noqa: S310
                lines = response.read().decode().splitlines()
        except (URLError, OSError):
            logger.warning("The real-time engine's status did not answer at %s", status)
            continue
        for line in lines:
            name, _, value = line.partition(":")
            if name.strip() == "subscribers":
                total += int(value)
                answered = True
    return total if answered else None
