"""The test suite: real PostgreSQL and Redis, given by DATABASE_URL and REDIS_URL."""

import os
from urllib.parse import urlsplit, urlunsplit

from .base import *  # noqa: F403
from .base import DATABASES, REDIS_URL

if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql" or not REDIS_URL:
    raise RuntimeError(
        "The test suite runs on PostgreSQL and Redis: set DATABASE_URL=postgres://... and "
        "REDIS_URL=redis://..., or run `make test`, which starts both on loopback."
    )

SECRET_KEY = "test-secret-key-not-for-production"
JWT_SIGNING_KEY = "test-jwt-signing-key-not-for-production"
SIMPLE_JWT["SIGNING_KEY"] = JWT_SIGNING_KEY  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ALLOWED_HOSTS = ["*"]
# Tasks run inline unless a test starts a real worker (which sets this off itself).
CELERY_TASK_ALWAYS_EAGER = os.environ.get("CELERY_TASK_ALWAYS_EAGER", "1") == "1"


def _redis_other_db(url: str) -> str:
    parts = urlsplit(url)
    db = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(db + 1) % 16}"))


# The broker gets its own Redis database: tests clear the cache's database (FLUSHDB) between
# tests, which would wipe queued and unacknowledged tasks. REDIS_URL's db + 1 (…/0 → …/1).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or _redis_other_db(REDIS_URL)
# tests/background calls the sweep itself (no beat): a short threshold keeps those tests fast.
VOUCHER_PENDING_SWEEP_AFTER = 2
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# Serve static files from the apps' folders without a collectstatic step.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
