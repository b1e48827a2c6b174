"""The ASGI application, for the stream process (gunicorn_stream.conf.py: uvicorn workers
under gunicorn) where there is no real-time engine, and for `bin/run`.

The streams (`/api/v1/events`, a reply's `/stream`, a page's `/live/`) are served by an
ASGI application of their own (chatpot_project.streams.StreamsApp), which holds no thread
per open stream; everything else goes to Django's. In production the proxy sends only the
streams here, and everything else to the WSGI process (chatpot_project.wsgi), which
answers it faster: measured, the send under ASGI ran at 93 messages/s against 500 under
WSGI (docs/PERFORMANCE.md). `bin/run` serves the whole site from this one process.
"""

import os
import re

from django.core.asgi import get_asgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatpot_project.settings")

django_application = get_asgi_application()
get_resolver().resolve("/")  # imports the URLconf and every view it names, once

from chatpot_project.streams import Route, StreamsApp  # noqa: E402 - Django is set up
from keeper.streams import player_answer, reply_answer  # noqa: E402
from pot.streams import events_answer  # noqa: E402


def with_streams(django) -> StreamsApp:
    """Django's application with the streams in front of it."""
    return StreamsApp(
        django,
        [
            Route(re.compile(r"/api/v1/events"), events_answer),
            Route(
                re.compile(r"/api/v1/messages/(?P<message_id>[0-9]+)/stream"),
                reply_answer,
                {"message_id": int},
            ),
            Route(re.compile(r"/live/"), player_answer),
        ],
    )


application = with_streams(django_application)
