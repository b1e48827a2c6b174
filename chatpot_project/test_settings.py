"""Settings for the test suite: the real settings, with a throwaway key and fast hashing."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-suite-only-key-not-a-secret-0123456789abcdef")

from .settings import *  # noqa: F403
from .settings import DATABASES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Every test database starts on a chain: a short one, made in milliseconds.
SEED_CHAIN_LENGTH = 5000

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not shared-cache memory: threads in the concurrency tests need real
    # SQLite locking (busy timeout, WAL), which an in-memory shared cache does not give.
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"chatpot-test-{os.getpid()}.sqlite3")
    }

# Serve static files from the source folders, as in development; production's hashed
# manifest is exercised by the gunicorn test after collectstatic.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Every request of the ASGI server the stream tests start runs in a thread of its own: its
# connection is closed when it ends, not kept for a thread that will not come back.
DATABASES["default"]["CONN_MAX_AGE"] = 0
