"""Development settings: what `manage.py` uses unless told otherwise, so that a checkout
runs its commands with nothing set (DEBUG on, SQLite and local memory unless DATABASE_URL
and REDIS_URL say otherwise). Production's entry points (wsgi.py, asgi.py, the Procfile,
the container) name chatpot_project.settings, which refuses to start without SECRET_KEY."""

import os

os.environ.setdefault("DEBUG", "1")
# A development game's seed chain: a million rounds, made in under a second.
os.environ.setdefault("SEED_CHAIN_LENGTH", "1000000")

from .settings import *  # noqa: F403
