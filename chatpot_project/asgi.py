"""The ASGI application, for the stream process (gunicorn_stream.conf.py: uvicorn workers
under gunicorn) and for `bin/run`.

In production it serves the server-sent event streams (`/api/v1/events`, a reply's
`/stream`), async views that hold a connection open for long; the proxy sends everything
else to the WSGI process (chatpot_project.wsgi), which answers the rest faster: measured,
the send under ASGI ran at 93 messages/s against 500 under WSGI, every request opening a
database connection of its own (docs/PERFORMANCE.md). It serves every URL all the same,
which is how `bin/run` serves the whole site from one process.
"""

import os

from django.core.asgi import get_asgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatpot_project.settings")

application = get_asgi_application()
get_resolver().resolve("/")  # imports the URLconf and every view it names, once
