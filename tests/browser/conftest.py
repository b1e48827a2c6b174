"""Playwright driving Debian's Chromium against a live server.

Without a browser the tests skip with the reason, except under CI, where a missing
browser is a failure: .ci/run installs it.
"""

import os
import re
from pathlib import Path

import pytest
from django.db import connections
from playwright.sync_api import expect

from accounts.services import register_player
from tests.tools import missing

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(
    os.environ.get(
        "SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
    )
)
# The flags a sandboxed, offline machine needs: no GPU, no background calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "a-long-enough-passphrase"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def chromium():
    """A Chromium for one test.

    Playwright's sync API runs an event loop on this thread while it is open, and while
    it does, Django keys its connections by context instead of by thread. So the browser
    lives only inside the test body: the database set-up and tear-down around it use the
    usual connections, and the ones opened during the test are closed before it ends.
    """
    if not os.path.exists(CHROMIUM):
        missing(f"no Chromium at {CHROMIUM} (install Debian's chromium to run browser tests)")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # the ORM calls stay synchronous
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        connections.close_all()


@pytest.fixture
def browser_errors():
    return []


@pytest.fixture
def site(asgi_live_server, running_worker):
    """The whole site as `bin/run` serves it: under an ASGI server behind the stand-in
    engine, a worker beside it."""
    return asgi_live_server


@pytest.fixture
def production_site(transactional_db, tmp_path, model_server):
    """The site as production runs it (tests/deployment.py: the Procfile's web and worker
    behind bin/proxy's nginx and nchan), its keeper the model server's, for the pages whose
    streams are the point."""
    from tests.deployment import Deployment
    from tests.engine import engine_missing

    if why := engine_missing():
        missing(why)
    deployment = Deployment(
        tmp_path,
        CHATBOT_BACKEND="openai",
        CHATBOT_BASE_URL=model_server.base_url,
        CHATBOT_MODEL="keeper-7b",
        CHATBOT_API_KEY="test-key",
        CHATBOT_TIMEOUT="1.5",
    )
    yield deployment
    deployment.stop()


@pytest.fixture
def new_page(chromium, site, browser_errors):
    """Pages in browser contexts of their own (another player, another browser)."""
    contexts = []

    def new_page(viewport=DESKTOP):
        context = chromium.new_context(base_url=site.url, viewport=viewport)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        # Production hashes passwords as production does: its players sign up on the page.
        page.signs_up = getattr(site, "production", False)
        # A CSP violation or a script error shows up here.
        page.on(
            "console",
            lambda message: (
                browser_errors.append(message.text) if message.type == "error" else None
            ),
        )
        page.on("pageerror", lambda error: browser_errors.append(str(error)))
        return page

    yield new_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def log_in(page, username: str) -> None:
    """A new player, registered by the service (or, on production's site, signed up on its
    page), logged in through the page."""
    if getattr(page, "signs_up", False):
        page.goto("/accounts/register/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        if page.get_by_label(re.compile("Password confirmation")).count():
            page.get_by_label(re.compile("Password confirmation")).fill(PASSWORD)
        page.get_by_role("button", name="Create my account").click()
        expect(page).to_have_url(re.compile(r"/chat/$"))
        return
    register_player(username=username, password=PASSWORD)
    sign_in(page, username)


def sign_in(page, username: str) -> None:
    """A player already registered, logged in through the page."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/chat/$"))
