"""What the web process answers beside the pages: its icon, and its static files under
ASGI (bin/run) read as an asynchronous stream."""

import asyncio

import pytest
from django.test import AsyncClient


def test_the_icon_is_where_browsers_look_for_it(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    icon = client.get(response["Location"])
    assert icon.status_code == 200
    assert icon["Content-Type"] == "image/svg+xml"


@pytest.mark.django_db
def test_a_static_file_under_asgi_is_an_asynchronous_stream(recwarn):
    async def fetch():
        response = await AsyncClient().get("/static/css/chatpot.css")
        body = b"".join([chunk async for chunk in response.streaming_content])
        return response, body

    response, body = asyncio.run(fetch())
    assert response.status_code == 200
    assert response.is_async
    assert b".bubble" in body
    assert not [w for w in recwarn if "synchronous iterators" in str(w.message)]
