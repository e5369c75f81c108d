"""Delete Idempotency-Key records older than a cut-off (default 48 hours; never under 24, the
contract's promise). Run it daily from cron or Celery beat."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from orders.services import IDEMPOTENCY_MIN_RETENTION, idempotency_records_purge


class Command(BaseCommand):
    help = "Delete idempotency records older than --hours (default 48, at least 24)."

    def add_arguments(self, parser):
        parser.add_argument("--hours", type=int, default=48)

    def handle(self, *args, **opts):
        older_than = timedelta(hours=opts["hours"])
        if older_than < IDEMPOTENCY_MIN_RETENTION:
            raise CommandError(
                f"Keys are kept at least {IDEMPOTENCY_MIN_RETENTION.total_seconds() / 3600:g} "
                "hours; pass --hours 24 or more."
            )
        deleted = idempotency_records_purge(older_than=older_than)
        self.stdout.write(f"Deleted {deleted} idempotency record(s) older than {older_than}.")
