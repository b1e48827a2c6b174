"""Every limit kept by client address counts each client apart, through the documented
deployment (tests/deployment.py: bin/proxy in front, the app told nothing of proxies:
with an engine it reads the address past one): sign-ups, log-ins and token requests, the
pages' and the API's, and the log-in lock-outs, which go by the pair (username, address).
A stranger elsewhere cannot lock anyone out, the operator included; a client's own
X-Forwarded-For changes nothing."""

import re
import time

import httpx
import pytest

from accounts.models import User
from tests.deployment import Deployment, RedisOfItsOwn
from tests.engine import engine_missing
from tests.tools import missing

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PASSWORD = "a-long-enough-passphrase"


@pytest.fixture
def site(tmp_path):
    if why := engine_missing():
        missing(why)
    redis = RedisOfItsOwn(tmp_path)  # the shared cache: every process counts together
    deployment = Deployment(
        tmp_path,
        REDIS_URL=redis.url,
        THROTTLE_RATES="register=3/hour,token=6/hour",
        AXES_FAILURE_LIMIT="3",
    )
    yield deployment
    deployment.stop()
    redis.kill()


def client_from(address: str, site, **headers) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=site.url, transport=transport, headers=headers, timeout=15)


def register(client: httpx.Client, username: str) -> int:
    answer = client.post(
        "/api/v1/auth/register", json={"username": username, "password": PASSWORD}
    )
    return answer.status_code


def test_each_client_has_its_own_sign_ups_log_ins_and_lock_outs(site):
    """The deployment's own settings name no proxy: with an engine in front, the app reads
    the client's address past one.

    The limits count in fixed windows of an hour (api/throttling.py): a run that an hour's
    turn cuts in two has counts that started again halfway, so only a failed run that no
    turn cut fails the test; a cut one plays again, as other clients (a turn cannot cut two
    runs of seconds each)."""
    assert "NUM_PROXIES" not in site.env
    for network in ("127.0.0", "127.0.1"):
        hour = int(time.time() // 3600)
        try:
            return play(site, network)
        except AssertionError:
            if int(time.time() // 3600) == hour:
                raise


def play(site, network: str) -> None:
    def at(host: int, **headers) -> httpx.Client:
        return client_from(f"{network}.{host}", site, **headers)

    tag = network.rsplit(".", 1)[1]
    first, second = at(2), at(3)
    forger = at(2, **{"X-Forwarded-For": "10.9.8.7"})

    # Sign-ups: three an hour from one address; another address is not held back by it,
    # and one that says it is elsewhere is counted where it is.
    assert [register(first, f"ann{tag}x{n}") for n in range(4)] == [201, 201, 201, 429]
    assert register(forger, f"forged{tag}") == 429
    assert register(second, f"ben{tag}") == 201
    page = second.get("/accounts/register/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    signed_up = second.post(
        "/accounts/register/",
        data={
            "csrfmiddlewaretoken": token,
            "username": f"ben{tag}y",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert signed_up.status_code == 302  # the page's sign-up, under the same limit

    # The operator: three wrong passwords from one address lock that address out for
    # them, not the operator's own.
    root = User.objects.get(username=f"ann{tag}x0")
    User.objects.filter(pk=root.pk).update(is_staff=True, is_superuser=True)
    wrong = {"username": f"ann{tag}x0", "password": "not-the-password"}
    right = {"username": f"ann{tag}x0", "password": PASSWORD}
    stranger = at(4)
    tries = [stranger.post("/api/v1/auth/token", json=wrong).status_code for _ in range(3)]
    assert tries == [401, 401, 429]  # the third failure locks the pair out
    locked = stranger.post("/api/v1/auth/token", json=right)
    assert (locked.status_code, locked.json()["code"]) == (429, "throttled")
    assert second.post("/api/v1/auth/token", json=right).status_code == 200
    login = second.get("/admin/login/")
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)[1]
    admin_login = second.post(
        "/admin/login/",
        data={"csrfmiddlewaretoken": csrf, **right, "next": "/admin/"},
    )
    assert (admin_login.status_code, admin_login.headers.get("location")) == (302, "/admin/")
    # A stranger who says it is the operator's address is still the stranger.
    disguised = at(4, **{"X-Forwarded-For": f"{network}.3"})
    assert disguised.post("/api/v1/auth/token", json=right).status_code == 429

    # Token requests: six an hour from an address, each address its own.
    third = at(5)
    counts = [third.post("/api/v1/auth/token", json=wrong | {"username": f"ben{tag}"}).status_code]
    counts += [third.post("/api/v1/auth/token", json=right).status_code for _ in range(6)]
    assert counts[-1] == 429
    assert at(6).post("/api/v1/auth/token", json=right).status_code == 200
