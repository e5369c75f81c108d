"""Celery tasks for orders: vendor fulfilment, the pending-voucher sweep, voucher expiry and the
idempotency-key purge. Each takes ids, calls a service (orders.fulfilment, orders.services), and
may run twice without harm. Late acknowledgement, prefetch 1 and the broker's visibility timeout
are set in config/settings/base.py (Celery section); docs/background.md explains how they fit.
"""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings

from . import fulfilment
from .services import idempotency_records_purge

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    acks_late=True,
    ignore_result=True,
    # The vendor call's own timeout is capped below the soft limit (VENDOR_CALL_TIMEOUT_MAX);
    # the soft limit turns an overrun into a retry, the hard limit is the last resort.
    soft_time_limit=settings.VOUCHER_FULFIL_SOFT_TIME_LIMIT,
    time_limit=settings.VOUCHER_FULFIL_TIME_LIMIT,
    # Attempts are counted on the voucher (fulfilment_attempts, bounded by the vendor's
    # max_retries), not by Celery, so that swept and redelivered runs count too.
    max_retries=None,
)
def fulfil_voucher(self, voucher_id: int) -> str:
    """One fulfilment attempt; a transient vendor failure with attempts left is retried after
    an exponential, jittered countdown.

    Eager mode (no broker: `make run`, the embedded default) makes one attempt per enqueue and
    never retries inline (Celery would run the retry at once, ignoring the countdown, hammering
    the vendor while the web request waits): the voucher stays pending and the sweep
    (`vouchers_pending_sweep`) tries again."""
    result = fulfilment.voucher_fulfil(voucher_id=voucher_id)
    if result.outcome == fulfilment.FulfilResult.RETRY:
        if self.request.is_eager:
            logger.info("voucher %s: left pending for the sweep (eager mode)", voucher_id)
        else:
            logger.info("voucher %s: retry in %.1fs", voucher_id, result.retry_in)
            raise self.retry(countdown=result.retry_in, max_retries=None)
    return result.outcome


@shared_task(ignore_result=True)
def vouchers_pending_sweep() -> int:
    """Celery beat, every minute: re-send vouchers pending too long (a lost message, a killed
    worker, a broker outage). Returns how many were sent."""
    return len(fulfilment.vouchers_pending_sweep())


@shared_task(ignore_result=True)
def vouchers_expire() -> int:
    """Celery beat, hourly: issued vouchers past their valid_till become expired."""
    return fulfilment.vouchers_expire()


@shared_task(ignore_result=True)
def idempotency_keys_purge() -> int:
    """Celery beat, daily: delete Idempotency-Key records older than the retention (≥ 24 h)."""
    return idempotency_records_purge(
        older_than=dt.timedelta(hours=settings.IDEMPOTENCY_KEY_RETENTION_HOURS)
    )
