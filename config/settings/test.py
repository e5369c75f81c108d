"""The test suite: real PostgreSQL and Redis, given by DATABASE_URL and REDIS_URL."""

import os

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
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# Serve static files from the apps' folders without a collectstatic step.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
