"""ChatPot settings, read from the environment through common.environment, where every
name is declared with its type, default and meaning (and .env.example lists them).

Unset, the app runs embedded: SQLite (WAL, IMMEDIATE transactions) and a local-memory
cache. With DATABASE_URL and REDIS_URL it runs on PostgreSQL and Redis, as in production.
"""

import logging
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from common.environment import value

BASE_DIR = Path(__file__).resolve().parent.parent


DEBUG = value("DEBUG")

SECRET_KEY = value("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Production (DEBUG off) refuses to start without it."
        )
    SECRET_KEY = "development-only-key-never-used-when-debug-is-off"  # noqa: S105

ALLOWED_HOSTS = value("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = value("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # First, so its createsuperuser (the operator with their account) is the one run.
    "accounts",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from here: no CDN
    # The project's own, in their layers (pyproject.toml's import contracts): shared
    # plumbing first, then the game's apps from the bottom up, the project's wiring last.
    "common",
    "operations",
    "api",
    "game",
    "wallet",
    "pot",
    "chat",
    "keeper",
    "live",
    "chatpot_project",
]

# WhiteNoise serves the static files (SERVE_STATIC=0: a server in front serves them).
SERVE_STATIC = value("SERVE_STATIC")
# Prometheus metrics (operations.metrics): kept unless METRICS=0; served at /metrics
# only to a bearer of METRICS_TOKEN (unset: not served).
METRICS_ENABLED = value("METRICS")
METRICS_TOKEN = value("METRICS_TOKEN")
MIDDLEWARE = [
    *(["operations.metrics.request_metrics"] if METRICS_ENABLED else []),
    "operations.logs.request_id_middleware",
    "operations.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "operations.middleware.DatabaseUnavailableMiddleware",
    *(["chatpot_project.static_files.StaticFilesMiddleware"] if SERVE_STATIC else []),
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "chatpot_project.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "pot.context_processors.game_status",
                "live.context_processors.live",
            ],
        },
    },
]

WSGI_APPLICATION = "chatpot_project.wsgi.application"


# Database: SQLite file unless DATABASE_URL names another (PostgreSQL in production).
if database_url := value("DATABASE_URL"):
    DATABASES = {
        "default": dj_database_url.parse(
            database_url,
            conn_max_age=value("DATABASE_CONN_MAX_AGE"),
            # Off by default: a check costs a round trip on every request. A connection the
            # server dropped fails its one request (503) and is then replaced.
            conn_health_checks=value("DATABASE_HEALTH_CHECKS"),
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": value("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {
                # Writers take the lock at BEGIN, so a transaction never fails
                # half-way on an upgrade from reader to writer.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
            },
        }
    }

# A connection pooler between the app and PostgreSQL (docs/OPERATIONS.md): "transaction"
# for PgBouncer's transaction mode, where a server connection serves one client only for
# one transaction, so nothing may outlive a transaction on it: the send prepares no
# statement and no query keeps a server-side cursor. "" (none) or "session" keep them.
DATABASE_POOLER = value("DATABASE_POOLER")
if DATABASE_POOLER == "transaction":
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
# Where the worker LISTENs for new replies when the app's connections go through a
# transaction-mode pooler, which cannot pass a notification on: the database server's own
# host:port (same database, user and password). Unset there, the worker looks for new
# replies every KEEPER_POLL_SECONDS instead.
DATABASE_LISTEN_ADDRESS = value("DATABASE_LISTEN_ADDRESS")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# Cache: shared rate limits and lock-outs need Redis once there is more than one process.
if redis_location := value("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_location,
            "KEY_PREFIX": "chatpot",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "chatpot",
        }
    }


AUTH_USER_MODEL = "accounts.User"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # counts failures; refuses while locked out
    "django.contrib.auth.backends.ModelBackend",
]

# Brute-force protection for the site, the admin and the API's token endpoint. Failures are
# kept in the database, so the lock-out holds across every process.
AXES_FAILURE_LIMIT = value("AXES_FAILURE_LIMIT")
AXES_COOLOFF_TIME = timedelta(minutes=value("AXES_COOLOFF_MINUTES"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The cool-off runs from the last counted failure: a try while locked out neither counts
# nor starts it again, so the time a locked-out player is told is the time left.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "operations.security.lockout_response"
# Each failure counts against the pair (username, the client's address as the throttles
# take it, past NUM_PROXIES proxies): a stranger elsewhere cannot lock anyone out.
AXES_CLIENT_IP_CALLABLE = "api.throttling.client_address"
AXES_VERBOSE = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

CSRF_FAILURE_VIEW = "operations.error_views.csrf_failure"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat"
LOGOUT_REDIRECT_URL = "home"


LANGUAGE_CODE = "en-us"
TIME_ZONE = value("TIME_ZONE")
USE_I18N = True
USE_TZ = True


STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = value("STATIC_ROOT", str(BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}


# Security headers. TLS usually ends at the proxy, hence SECURE_SSL_REDIRECT off by default.
SECURE_SSL_REDIRECT = value("SECURE_SSL_REDIRECT")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = value("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_HSTS_SECONDS = value("SECURE_HSTS_SECONDS", 0 if DEBUG else 3600)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}


# Logs (operations.logs): JSON lines in production, text in development (LOG_FORMAT
# json or plain), each with the request's id and, on the game's lines, the player, the
# message and the round.
LOG_FORMAT = value("LOG_FORMAT", "plain" if DEBUG else "json")
# Python's warnings are log lines too (logger py.warnings), in the same format.
logging.captureWarnings(True)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "operations.logs.ContextFilter"},
        "suspicious": {"()": "operations.logs.SuspiciousIsAWarning"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "operations.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["context", "suspicious"],
        }
    },
    "root": {"handlers": ["console"], "level": value("LOG_LEVEL")},
    "loggers": {
        # Django's own console handler (with DEBUG on) printed each of its lines a second
        # time beside the root's: its lines go to the root's handler only.
        "django": {"handlers": []},
        "django.db.backends": {"level": "WARNING"},
        # A line per model request: too many with a reply per message.
        "httpx": {"level": "WARNING"},
    },
}


# The keeper's bot (docs/GAME.md): the built-in bot unless CHATBOT_BACKEND=openai.
CHATBOT_BACKEND = value("CHATBOT_BACKEND")
CHATBOT_BASE_URL = value("CHATBOT_BASE_URL")
CHATBOT_MODEL = value("CHATBOT_MODEL")
CHATBOT_API_KEY = value("CHATBOT_API_KEY")


# The keeper's replies (docs/LIVE.md), the seed chain, the ledger's audit and the live
# streams: what each setting means is declared beside it in common/environment.py.
chatbot_timeout = value("CHATBOT_TIMEOUT")  # read once: the grace follows it
# The keeper's timings, in seconds, in one place (keeper.conf).
KEEPER = {
    "TIMEOUT": chatbot_timeout,
    "LEASE": value("KEEPER_LEASE_SECONDS"),
    "RENEW_EVERY": value("KEEPER_RENEW_SECONDS"),
    "GRACE": value("KEEPER_GRACE_SECONDS", chatbot_timeout + 5),
    "SWEEP_EVERY": value("KEEPER_SWEEP_SECONDS"),
    "POLL_EVERY": value("KEEPER_POLL_SECONDS"),
    "CLAIM_EVERY": value("KEEPER_CLAIM_SECONDS"),
    "MAX_ATTEMPTS": value("KEEPER_MAX_ATTEMPTS"),
}
SEED_CHAIN_LENGTH = value("SEED_CHAIN_LENGTH")
LEDGER_AUDIT_EVERY = value("LEDGER_AUDIT_SECONDS")
LEDGER_AUDIT_LOOK_EVERY = value("LEDGER_AUDIT_LOOK_SECONDS")
LIVE_PUBLISH_URLS = [url.rstrip("/") for url in value("LIVE_PUBLISH_URL")]
# With an engine there is bin/proxy in front (docs/OPERATIONS.md), so 1 unless set.
NUM_PROXIES = value("NUM_PROXIES", 1 if LIVE_PUBLISH_URLS else 0)
# Never in production (live.E001).
LIVE_DEV_ENGINE = value("LIVE_DEV_ENGINE")
LIVE_DEV_PUBLISH = value("LIVE_DEV_PUBLISH")
LIVE_RESUME_SECONDS = value("LIVE_RESUME_SECONDS")
WORKER_CONCURRENCY = value("WORKER_CONCURRENCY")
# Where the worker serves its own /metrics (a host of its own: no web process reads its
# figures); unset, none.
WORKER_METRICS_LISTEN = value("WORKER_METRICS_LISTEN")
STREAM_HEARTBEAT_SECONDS = value("STREAM_HEARTBEAT_SECONDS")


# The JSON API (docs/API.md): JWT bearer tokens, JSON only, errors with a stable code.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.PlayerTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.StrictJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    # Proxies in front of the app; the client's address is read past them (0: REMOTE_ADDR).
    "NUM_PROXIES": NUM_PROXIES,
    "DEFAULT_THROTTLE_RATES": value("THROTTLE_RATES"),
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=value("JWT_ACCESS_MINUTES")),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=value("JWT_REFRESH_DAYS")),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": "HS256",
    # A key of its own where configured, so rotating it logs out API clients only.
    "SIGNING_KEY": value("JWT_SIGNING_KEY", SECRET_KEY),
    "AUTH_HEADER_TYPES": ("Bearer",),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "ChatPot API",
    "DESCRIPTION": (
        "Play ChatPot from a program: every message costs credits, feeds the shared pot "
        "and may win it. Authenticate with a JWT bearer token from /api/v1/auth/token. "
        "Errors are JSON with a stable `code`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from the app's own static files, its start-up script a file of its own:
    # the strict CSP allows neither a CDN nor an inline script.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.document_body_limit",
        "api.schema.document_streams",
    ],
    "ENUM_NAME_OVERRIDES": {
        "TransferKindEnum": "wallet.models.Transfer.Kind",
        "RoundOutcomeEnum": "pot.models.Round.Outcome",
    },
}


# Errors to Sentry (or a server that speaks its protocol), only where SENTRY_DSN is set:
# no request bodies, cookies or users' details are sent (send_default_pii off).
SENTRY_DSN = value("SENTRY_DSN")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        integrations=[DjangoIntegration()],
        environment=value("SENTRY_ENVIRONMENT"),
        traces_sample_rate=value("SENTRY_TRACES_SAMPLE_RATE"),
        send_default_pii=False,
    )
