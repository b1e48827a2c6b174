"""Swagger UI, served by the app under the strict CSP, lists the API's operations."""

import re

import pytest
from drf_spectacular.generators import SchemaGenerator
from playwright.sync_api import Page, expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def schema_operations() -> int:
    """The operations the app's OpenAPI schema describes: each is one block of the page."""
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    verbs = {"get", "post", "put", "patch", "delete"}
    return sum(len(verbs & set(operations)) for operations in paths.values())


def test_swagger_ui_lists_the_operations_from_the_app_alone(page: Page, site, browser_errors):
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/api/docs/")
    send = page.locator(".opblock-post").filter(has_text="/api/v1/messages").first
    expect(send).to_be_visible()
    expect(page.locator(".opblock")).to_have_count(schema_operations(), timeout=10_000)
    expect(page.get_by_text("ChatPot API")).to_be_visible()
    send.locator(".opblock-summary").click()  # an operation opens, with its contract
    expect(send).to_contain_text("Idempotency-Key")
    assert all(url.startswith(site.url) for url in requested), [
        url for url in requested if not url.startswith(site.url)
    ]
    assert not [error for error in browser_errors if re.search("Content.Security", error, re.I)]
    assert browser_errors == []
