"""The keeper's figures an operator watches (operations.metrics, operations.health): the
workers' queue, read when asked."""

from prometheus_client.core import GaugeMetricFamily

from operations import health
from operations.metrics import state

from .selectors import replies_waiting


@state
def queue():
    waiting = replies_waiting()
    yield GaugeMetricFamily(
        "chatpot_replies_waiting", "Replies not yet done (the workers' queue).", waiting["count"]
    )
    yield GaugeMetricFamily(
        "chatpot_reply_oldest_waiting_seconds",
        "How long the oldest reply not yet done has waited since its message (0: none).",
        value=waiting["oldest_seconds"] or 0,
    )


health.detail("replies_waiting", replies_waiting)
