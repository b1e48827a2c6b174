"""What the proxy tells the app of a request: its Host as the client sent it (a form posted
on another port than 80 passes the CSRF origin check), and its scheme as a front the proxy
trusts says it (a TLS-terminating load balancer's https), nobody else."""

import re

import httpx
import pytest

from tests.deployment import Deployment
from tests.engine import engine_missing
from tests.tools import missing

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def deployment_with(tmp_path, **proxy):
    if why := engine_missing():
        missing(why)
    return Deployment(tmp_path, proxy=proxy)


def log_in_page(client: httpx.Client) -> str:
    page = client.get("/accounts/login/")
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]


def test_a_form_posted_on_another_port_passes_and_a_clients_scheme_is_not_taken(tmp_path):
    deployment = deployment_with(tmp_path)
    try:
        site = deployment.url  # a port of its own, never 80
        with httpx.Client(base_url=site, timeout=15) as client:
            token = log_in_page(client)
            posted = client.post(
                "/accounts/login/",
                data={"csrfmiddlewaretoken": token, "username": "x", "password": "y"},
                headers={"Origin": site},
            )
            # Checked (a wrong password), not refused as a cross-site post.
            assert posted.status_code == 200
            assert "correct username and password" in posted.text
            # A client that says it came by https is not the proxy's trusted front.
            said = client.get("/", headers={"X-Forwarded-Proto": "https"})
            assert "strict-transport-security" not in said.headers
            assert said.headers["server"] == "nginx"  # no version
    finally:
        deployment.stop()


def test_behind_a_trusted_front_its_https_holds_hsts_and_the_referer_check(tmp_path):
    deployment = deployment_with(tmp_path, PROXY_TRUSTED_FRONT="127.0.0.0/8")
    try:
        with httpx.Client(
            base_url=deployment.url, timeout=15, headers={"X-Forwarded-Proto": "https"}
        ) as client:
            home = client.get("/")
            assert "strict-transport-security" in home.headers
            token = log_in_page(client)
            elsewhere = client.post(
                "/accounts/login/",
                data={"csrfmiddlewaretoken": token, "username": "x", "password": "y"},
                headers={"Referer": "https://evil.example/"},
            )
            assert elsewhere.status_code == 403  # a valid token, from another site
    finally:
        deployment.stop()
