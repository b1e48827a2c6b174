"""One cluster (cluster/: every host a network namespace, bin/cluster's harness) for the
tests of this folder, made once and removed at the end, whatever failed."""

import json
import tempfile
import time
from pathlib import Path

import pytest

from cluster import HOSTS, MODEL_PORT, Cluster, missing
from tests.tools import missing as tool_missing

# The game as the tests play it: players who keep sending, a win every few messages.
GAME = "win_chance=Decimal('0.02'), price_base=1, price_step=0, signup_grant=100_000"
APP = {
    "THROTTLE_RATES": "send=100000/min,register=100000/hour,token=100000/hour",
    # A worker that dies hands its replies on after 6 s (the tests wait that out).
    "KEEPER_LEASE_SECONDS": "6",
    "KEEPER_RENEW_SECONDS": "2",
    # The model: a server of the tests' own on the client host, a short reply in 1 s.
    "CHATBOT_BACKEND": "openai",
    "CHATBOT_BASE_URL": f"http://{HOSTS['client'].address}:{MODEL_PORT}",
    "CHATBOT_MODEL": "keeper-7b",
    "CHATBOT_API_KEY": "test-key",
    "CHATBOT_TIMEOUT": "10",
}
# Every listener of the tests comes from one address (the machine's, on the bridge).
PROXY = {"PROXY_STREAMS_PER_ADDRESS": "3000"}


@pytest.fixture(scope="module")
def cluster():
    if why := missing():
        tool_missing(why)
    # Not pytest's own temporary folder: PostgreSQL's and nginx's users read below this one.
    made = Cluster(Path(tempfile.mkdtemp(prefix="chatpot-cluster-")))
    try:
        made.up(app=APP, proxy=PROXY)
        made.spawn(
            "client", "model",
            ["python", "-m", "tests.fake_model", "--host", HOSTS["client"].address,
             "--port", str(MODEL_PORT), "--words", "12", "--seconds", "1"],
            env=made.app_environment("client"),
        )  # fmt: skip
        made.manage("shell", "-c", f"""
from decimal import Decimal
from game.models import GameConfig
config = GameConfig.load()
for name, value in dict({GAME}).items():
    setattr(config, name, value)
config.full_clean()
config.save()
""")  # fmt: skip
        yield made
    finally:
        made.down()


FACTS = """
import json
from django.db.models import Count
from chat.models import Message, Reply
from pot.models import Round
from wallet.audit import audit_ledger
report = audit_ledger()
print(json.dumps({
    "audit": report.summary(),
    "breaches": list(report.breaches),
    "truth": [
        part
        for found in Round.objects.order_by("number")
        for part in ([str(found.number), f"{found.number}w"]
                     if found.outcome == Round.Outcome.WON else [str(found.number)])
    ],
    "messages": [
        [username, key] for username, key in
        Message.objects.values_list("player__username", "idempotency_key")
    ],
    "replies": dict(Reply.objects.values_list("status").annotate(n=Count("pk"))),
}))
"""


def facts(cluster: Cluster, *, stalled_after: float = 30, at_most: float = 300) -> dict:
    """What the cluster's database says once every reply has ended: the audit, every win
    and round, every message, the replies by status. The workers may have a backlog to
    finish (the load leaves one on this machine): waited for as long as it shrinks, or
    returned as it is once it has not shrunk for `stalled_after` seconds."""
    started = progress_at = time.monotonic()
    least = None
    while True:
        found = json.loads(cluster.manage("shell", "-c", FACTS).splitlines()[-1])
        left = sum(n for s, n in found["replies"].items() if s in ("pending", "streaming"))
        now = time.monotonic()
        if not left or now - progress_at > stalled_after or now - started > at_most:
            return found
        if least is None or left < least:
            least, progress_at = left, now
        time.sleep(1)
