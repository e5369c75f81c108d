"""Settings shared by every environment. Each value is read from the environment;
`.env.example` lists them and the README's table explains each one."""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "import_export",
    "companies",
    "customers",
    "rewards",
    "loyalty",
    "orders",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.RefuseNulCharactersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# SQLite is the embedded default; production and the test suite use PostgreSQL via DATABASE_URL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # each write service owns its transaction
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for the writer instead of failing at once when two requests write together.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, rate limits, Celery --------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                # A cache outage must not turn every request into a 500: reads miss, writes
                # are dropped, and rate limits fail open (see RATELIMIT_FAIL_OPEN below).
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

RATELIMIT_USE_CACHE = "default"
# Decision: when the cache is down, requests are let through (logged) rather than refused.
# Limits protect capacity; refusing every partner call during a cache outage would turn a
# degraded cache into a full outage. Secrets carry 256 bits, so brute force stays hopeless,
# and /healthz reports 503 so the outage is seen.
RATELIMIT_FAIL_OPEN = env.bool("RATELIMIT_FAIL_OPEN", default=True)
RATE_LIMIT_COMPANY_AUTH = env("RATE_LIMIT_COMPANY_AUTH", default="10/m")
RATE_LIMIT_COMPANY_CALLS = env("RATE_LIMIT_COMPANY_CALLS", default="1200/m")
# How many reverse proxies in front of the app append to X-Forwarded-For. 0 = ignore the header.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=120)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=100)
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A publish during a broker outage gives up quickly instead of holding the web request: the order
# is committed already and the pending-voucher sweep sends the task later.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}

# Vendor fulfilment (orders/fulfilment.py, orders/tasks.py; docs/background.md).
# A vendor call's timeout is the vendor's own, capped here so that it always ends inside the
# fulfilment task's soft time limit (the hard limit then leaves time to record the answer).
VENDOR_CALL_TIMEOUT_MAX = env.int("VENDOR_CALL_TIMEOUT_MAX", default=30)
VOUCHER_FULFIL_SOFT_TIME_LIMIT = 60
VOUCHER_FULFIL_TIME_LIMIT = 75
# Retry delays (base * 2^n with jitter, per vendor) never exceed this, whatever a vendor's
# backoff_max_seconds says: the broker's visibility timeout below is computed from it.
VOUCHER_RETRY_DELAY_MAX = env.int("VOUCHER_RETRY_DELAY_MAX", default=600)
# The sweep re-sends vouchers still pending this long after their last task was sent and their
# last vendor call. Longer than the largest retry delay plus a task's time limit
# (600 + 75 = 675 s < 900 s), so it never races a retry that is merely waiting its turn.
VOUCHER_PENDING_SWEEP_AFTER = env.int("VOUCHER_PENDING_SWEEP_AFTER", default=900)
# With Redis, a message a worker has taken but not acknowledged (late ack) goes back to the queue
# after the visibility timeout. A retry waits out its countdown inside a worker unacknowledged,
# then runs, so the timeout must exceed the largest retry delay plus the longest task:
#   VOUCHER_RETRY_DELAY_MAX 600 s + CELERY_TASK_TIME_LIMIT 120 s (the longest limit) = 720 s,
# else Redis would hand a running or waiting task to a second worker. 3600 s leaves room for a
# backlog in front of a due retry. A redelivery after a crash waits this long, which is why the
# sweep exists; tests/background checks the inequality.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    "socket_connect_timeout": 2,
}
# The worker runs these; `celery -A config beat` sends them (one beat per deployment).
CELERY_BEAT_SCHEDULE = {
    "vouchers-pending-sweep": {
        "task": "orders.tasks.vouchers_pending_sweep",
        "schedule": 60.0,
    },
    "vouchers-expire": {
        "task": "orders.tasks.vouchers_expire",
        "schedule": crontab(minute=5),
    },
    "idempotency-keys-purge": {
        "task": "orders.tasks.idempotency_keys_purge",
        "schedule": crontab(hour=3, minute=30),
    },
    "low-stock-alert-emails-sweep": {
        "task": "rewards.tasks.low_stock_alert_emails_sweep",
        "schedule": 300.0,
    },
}
# Idempotency-Key records are purged daily once older than this (the contract keeps 24 h).
IDEMPOTENCY_KEY_RETENTION_HOURS = env.int("IDEMPOTENCY_KEY_RETENTION_HOURS", default=48)

# --- Auth and tokens -------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Tokens are signed with their own key, so rotating one never invalidates the other.
JWT_SIGNING_KEY = env("JWT_SIGNING_KEY", default="")
COMPANY_TOKEN_LIFETIME = timedelta(minutes=env.int("COMPANY_TOKEN_MINUTES", default=60))
CUSTOMER_TOKEN_LIFETIME = timedelta(minutes=env.int("CUSTOMER_TOKEN_MINUTES", default=30))

SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "ACCESS_TOKEN_LIFETIME": COMPANY_TOKEN_LIFETIME,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "TOKEN_TYPE_CLAIM": "token_type",
    "JTI_CLAIM": "jti",
    "USER_ID_CLAIM": "sub",
    "LEEWAY": 0,
    "UPDATE_LAST_LOGIN": False,
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["config.api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "config.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.errors.partner_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "NUM_PROXIES": 0,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Rewards Platform API",
    "DESCRIPTION": "Partner API (/v1/) and Loyalty API (/api_gateway/rewards/core/). "
    "See docs/api.md for errors, rate limits and idempotency.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# Request bodies above this size are refused with 413 in the envelope.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BYTES", default=1024 * 1024)

# Loyalty issue calls made without skip_validation=true need a code sent to the customer.
LOYALTY_VALIDATION_CODE_TTL_SECONDS = env.int("LOYALTY_VALIDATION_CODE_TTL_SECONDS", default=600)
LOYALTY_VALIDATION_CODE_MAX_ATTEMPTS = env.int("LOYALTY_VALIDATION_CODE_MAX_ATTEMPTS", default=5)
LOYALTY_VALIDATION_CODES_PER_HOUR = env.int("LOYALTY_VALIDATION_CODES_PER_HOUR", default=5)

# Encrypts vendor API keys at rest (a Fernet key: 32 url-safe base64 bytes). Derived from
# DJANGO_SECRET_KEY when empty.
VENDOR_SECRETS_KEY = env("VENDOR_SECRETS_KEY", default="")

# --- Mail ------------------------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="rewards@localhost")

# --- i18n, static ----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
