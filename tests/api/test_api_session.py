"""docs/API.md's session runs as it is pasted, against a live server (the site under
uvicorn, streams included, and a worker writing the replies), and calls every endpoint."""

import re
import subprocess
from pathlib import Path

import pytest
from django.urls import get_resolver

from chatpot_project import api_urls
from tests.tools import needs_program
from wallet.audit import audit_ledger

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    needs_program("curl", "the session uses it"),
]


def session() -> str:
    """The first shell block of docs/API.md."""
    text = (ROOT / "docs" / "API.md").read_text()
    return re.search(r"```sh\n(.*?)```", text, flags=re.DOTALL)[1]


def test_the_session_names_every_endpoint():
    script = session()
    for pattern in api_urls.urlpatterns:
        route = str(pattern.pattern)
        if "(?P<path>" in route:
            continue  # the API's own 404
        shown = "$API/" + route.replace("<int:message_id>", "$MESSAGE").replace(
            "<int:number>", "1"
        )
        assert shown in script, route
    assert get_resolver()  # the URLs load


def test_the_session_runs_as_pasted(asgi_live_server, running_worker, tmp_path):
    script = session().replace(
        "API=http://127.0.0.1:8000/api/v1", f"API={asgi_live_server.url}/api/v1"
    )
    assert f"API={asgi_live_server.url}" in script
    ran = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = ran.stdout
    assert ran.stderr == "", ran.stderr
    assert '"code"' not in output, output  # no error answered, anywhere
    for said in [
        '"username":"ada"',
        '"client_seed":"my-lucky-seed"',
        '"reply_status":"pending"',
        "event: done",
        '"reply_status":"done"',
        '"server_seed_hash"',
        "event: pot",
        '"amount":50',
        '"next_claim_at"',
        "204",
    ]:
        assert said.replace(" ", "") in output.replace(" ", ""), (said, output)
    assert audit_ledger().clean
