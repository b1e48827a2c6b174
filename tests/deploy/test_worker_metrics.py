"""The worker's own /metrics (WORKER_METRICS_LISTEN): a worker on a host with no web
process serves its figures itself, behind the same token as the web process's."""

import time
import urllib.error
import urllib.request

import pytest

from chat.models import Reply
from chat.services import send_message
from tests.deployment import procfile, production_environment, start, stop
from tests.engine import free_port, wait_for_port

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

TOKEN = "a-metrics-token-for-the-test"


def scrape(url: str, token: str | None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=5
        ) as page:
            return page.status, page.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_a_worker_serves_its_own_figures_with_the_token_only(player):
    port = free_port()
    env = production_environment(METRICS_TOKEN=TOKEN, WORKER_METRICS_LISTEN=f"127.0.0.1:{port}")
    # No folder shared with a web process. (Set even empty, prometheus_client would count
    # into the working folder.)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    worker = start(procfile()["worker"], env)
    try:
        wait_for_port(port, 30)
        url = f"http://127.0.0.1:{port}/metrics"
        send_message(player=player, body="what is in the pot?")
        deadline = time.monotonic() + 30
        while Reply.objects.exclude(status="done").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        nobody, _ = scrape(url, None)
        wrong, _ = scrape(url, "not-the-token")
        elsewhere, _ = scrape(f"http://127.0.0.1:{port}/admin/", TOKEN)
        status, figures = scrape(url, TOKEN)
    finally:
        stop(worker)
    assert (nobody, wrong, elsewhere) == (401, 401, 404)
    assert status == 200
    # The reply this worker wrote, counted by it, and the figures of state beside.
    assert 'chatpot_replies_total{outcome="builtin"} 1.0' in figures
    assert "chatpot_replies_waiting 0.0" in figures


def test_an_address_without_a_port_is_refused_naming_the_setting():
    from operations.metrics import serve_for_worker

    with pytest.raises(ValueError, match=r"WORKER_METRICS_LISTEN='metrics-host' is not host:port"):
        serve_for_worker("metrics-host")
