"""The WSGI application, for gunicorn (gunicorn.conf.py).

Everything a request would otherwise load on first use (the URLconf, and with it every
view, serializer and the API's libraries) is loaded here, when the server starts: with
gunicorn's `preload_app`, once, before the workers are forked, so that no worker makes
its first players wait while it imports.
"""

import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatpot_project.settings")

application = get_wsgi_application()
get_resolver().resolve("/")  # imports the URLconf and every view it names
