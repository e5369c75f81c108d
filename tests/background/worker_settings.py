"""Settings of the Celery worker that tests/background starts: the test settings, with e-mail
written to files (EMAIL_FILE_PATH) so the tests, in another process, can read what was sent."""

import os

from config.settings.test import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ["TEST_EMAIL_DIR"]
