"""The ASGI application, for `bin/run` (uvicorn): the whole site, with the stand-in of the
real-time engine in front of it where LIVE_DEV_ENGINE asks for it (live.devengine). In
production the Procfile's web process serves the site under WSGI (chatpot_project.wsgi)
and the engine of deploy/ holds the streams."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatpot_project.settings")

django_application = get_asgi_application()

from live.devengine import with_dev_engine  # noqa: E402 - Django is set up

application = with_dev_engine(django_application)
