"""Vendor fulfilment of pending vouchers, and the voucher lifecycle the background workers run:
the pending-voucher sweep and expiry. The Celery tasks in orders/tasks.py call these services.

One fulfilment attempt (voucher_fulfil):

1. a short transaction locks the voucher, returns if it is no longer pending (a redelivered or
   duplicate task), and records the attempt (fulfilment_attempts, last_attempt_at), so attempts
   are counted even when a worker dies during the call;
2. the vendor is called with no transaction open and no row locked: the voucher's id is the
   vendor-side idempotency key, so a repeated call returns the same code, never a second one;
3. a second short transaction re-locks, re-checks `pending`, and settles: the code (issued), or
   on final failure the failed status with the stock unit and the points hold given back.

Lock order in the settling transaction follows the project's (loyalty.services): the customer
row first, then the order, then the voucher; the points hook may lock the customer's group next,
and returning stock locks the reward last.

Attempts are counted in the database, not in Celery's retry counter: a voucher whose tasks were
lost and swept, or whose worker was killed, still gets at most 1 + vendor.max_retries calls.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from loyalty.services import customer_lock
from rewards.models import StockMovement, Vendor
from rewards.services import reward_stock_return

from .loyalty_services import reward_issue_voucher_settled
from .models import Order, Voucher
from .services import VOUCHER_CODE_CONSTRAINT, _valid_till, _violates
from .vendor_client import VendorError, VendorVoucher, vendor_voucher_request

logger = logging.getLogger(__name__)

FAILURE_REASON_MAX_LENGTH = Voucher._meta.get_field("failure_reason").max_length


@dataclass(frozen=True)
class FulfilResult:
    """What one attempt did. `outcome` is one of ISSUED, FAILED, RETRY (a transient failure with
    attempts left: try again in `retry_in` seconds), SKIPPED (not pending any more, or gone) and
    DEFERRED (its vendor is switched off: left pending, no attempt counted)."""

    ISSUED = "issued"
    FAILED = "failed"
    RETRY = "retry"
    SKIPPED = "skipped"
    DEFERRED = "deferred"

    outcome: str
    reason: str = ""
    retry_in: float | None = None


@dataclass(frozen=True)
class _Attempt:
    vendor: Vendor
    product_code: str
    denomination: Decimal
    number: int
    allowed: int


def voucher_fulfil(*, voucher_id: int) -> FulfilResult:
    """One fulfilment attempt for a pending vendor voucher. Safe to run any number of times, also
    concurrently: only the first answer that finds the voucher pending is recorded, and every
    call for one voucher carries the same idempotency key."""
    if transaction.get_connection().in_atomic_block:
        # The vendor call must never run while this connection holds row locks.
        raise RuntimeError("voucher_fulfil calls a vendor over HTTP: run it outside transactions")
    attempt = _attempt_start(voucher_id=voucher_id)
    if isinstance(attempt, FulfilResult):
        return attempt
    try:
        answer = vendor_voucher_request(
            vendor=attempt.vendor,
            reference=str(voucher_id),
            product_code=attempt.product_code,
            denomination=attempt.denomination,
        )
    except VendorError as exc:
        error = exc
    except SoftTimeLimitExceeded:
        error = VendorError("vendor call overran the task's time limit", transient=True)
    else:
        return _settle_issued(voucher_id=voucher_id, answer=answer)

    if error.transient and attempt.number < attempt.allowed:
        # Still pending: keep the last error visible to the back-office.
        Voucher.objects.filter(pk=voucher_id, status=Voucher.Status.PENDING).update(
            failure_reason=error.reason[:FAILURE_REASON_MAX_LENGTH], updated_at=timezone.now()
        )
        delay = voucher_retry_delay(
            vendor=attempt.vendor, attempt=attempt.number, retry_after=error.retry_after
        )
        logger.info(
            "voucher %s: attempt %d/%d failed (%s)",
            voucher_id,
            attempt.number,
            attempt.allowed,
            error.reason,
        )
        return FulfilResult(FulfilResult.RETRY, reason=error.reason, retry_in=delay)
    reason = error.reason
    if error.transient:
        reason = f"gave up after {attempt.number} attempts: {reason}"
    return _settle_failed(voucher_id=voucher_id, reason=reason)


def voucher_retry_delay(*, vendor: Vendor, attempt: int, retry_after: float | None = None) -> float:
    """Seconds before attempt `attempt + 1`: the vendor's base doubled per attempt, capped by its
    backoff_max_seconds and by VOUCHER_RETRY_DELAY_MAX, then jittered to between half and all of
    that ("equal jitter": vouchers failed together do not retry together, and no retry comes
    sooner than half the backoff). A 429's Retry-After is honoured up to the cap."""
    cap = max(1.0, float(min(vendor.backoff_max_seconds, settings.VOUCHER_RETRY_DELAY_MAX)))
    base = max(1.0, float(vendor.backoff_base_seconds))
    delay = min(cap, base * 2 ** min(attempt - 1, 32))
    delay = delay / 2 + random.random() * delay / 2  # noqa: S311 (jitter, not a secret)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay


def _attempt_start(*, voucher_id: int) -> _Attempt | FulfilResult:
    """Lock the voucher, decide whether to call the vendor, and record the attempt."""
    with transaction.atomic():
        voucher = (
            Voucher.objects.select_for_update(of=("self",))
            .select_related("reward__vendor")
            .filter(pk=voucher_id)
            .first()
        )
        if voucher is None or voucher.status != Voucher.Status.PENDING:
            return FulfilResult(FulfilResult.SKIPPED, reason="not pending")
        reward = voucher.reward
        vendor = reward.vendor
        failure = ""
        if vendor is None or not reward.vendor_product_code:
            failure = "the reward has no vendor or vendor product code configured"
        elif not vendor.is_active:
            # Switched off by staff, for maintenance or for good: left pending, uncounted; the
            # sweep tries again, and staff can see the vouchers waiting in the back-office.
            logger.warning("voucher %s: vendor %s is inactive; left pending", voucher_id, vendor)
            return FulfilResult(FulfilResult.DEFERRED, reason="vendor inactive")
        elif voucher.fulfilment_attempts >= 1 + vendor.max_retries:
            # Every allowed call was made and none was answered (workers died mid-call).
            failure = f"gave up after {voucher.fulfilment_attempts} attempts without an answer"
        if not failure:
            number = voucher.fulfilment_attempts + 1
            now = timezone.now()
            Voucher.objects.filter(pk=voucher_id).update(
                fulfilment_attempts=number, last_attempt_at=now, updated_at=now
            )
            return _Attempt(
                vendor=vendor,
                product_code=reward.vendor_product_code,
                denomination=voucher.denomination_value,
                number=number,
                allowed=1 + vendor.max_retries,
            )
    # Settled in its own transaction, which takes the locks in the project's order.
    return _settle_failed(voucher_id=voucher_id, reason=failure)


def _lock_for_settle(*, voucher_id: int) -> Voucher | None:
    """Customer, order, then voucher, in the project's lock order. None if the voucher is gone."""
    row = Voucher.objects.filter(pk=voucher_id).values("customer_id", "order_id").first()
    if row is None:
        return None
    customer_lock(customer_id=row["customer_id"])
    if row["order_id"] is not None:
        # Two vouchers of one order settling at once would each count the other as pending and
        # leave the order `pending` for good; the order's row lock makes them take turns.
        list(Order.objects.select_for_update().filter(pk=row["order_id"]).values_list("pk"))
    return (
        Voucher.objects.select_for_update(of=("self",))
        .select_related("reward", "customer", "issue")
        .filter(pk=voucher_id)
        .first()
    )


def _settle_issued(*, voucher_id: int, answer: VendorVoucher) -> FulfilResult:
    with transaction.atomic():
        voucher = _lock_for_settle(voucher_id=voucher_id)
        if voucher is None or voucher.status != Voucher.Status.PENDING:
            # A duplicate task settled it first (with this same code: one idempotency key), or it
            # failed meanwhile; then the vendor's code goes unused and support may void it.
            logger.warning(
                "voucher %s: vendor answered with a code but it is no longer pending", voucher_id
            )
            return FulfilResult(FulfilResult.SKIPPED, reason="not pending")
        now = timezone.now()
        voucher.code = answer.code
        voucher.pin = answer.pin
        voucher.valid_till = answer.valid_till or _valid_till(
            voucher.reward, timezone.localdate(now)
        )
        voucher.status = Voucher.Status.ISSUED
        voucher.issued_at = now
        voucher.failure_reason = ""
        try:
            with transaction.atomic():
                voucher.save(
                    update_fields=[
                        "code",
                        "pin",
                        "valid_till",
                        "status",
                        "issued_at",
                        "failure_reason",
                        "updated_at",
                    ]
                )
        except IntegrityError as exc:
            if not _violates(exc, VOUCHER_CODE_CONSTRAINT, "orders_voucher.code"):
                raise
            # Codes are unique platform-wide. The vendor returned one another voucher already
            # holds (its bug, or a pool/generated code that happens to match): storing it would
            # hand one code to two customers, and asking again returns the same code (same
            # idempotency key). A permanent failure gives stock and points back; the log says
            # which voucher, never the code.
            logger.error(
                "voucher %s: the vendor's code is already used by another voucher", voucher_id
            )
            return _fail_locked(
                voucher=voucher, reason="vendor returned a code already used by another voucher"
            )
        reward_issue_voucher_settled(voucher=voucher)
        if voucher.order_id is not None:
            order_status_refresh(order_id=voucher.order_id)
    logger.info("voucher %s: issued", voucher_id)
    return FulfilResult(FulfilResult.ISSUED)


def _settle_failed(*, voucher_id: int, reason: str) -> FulfilResult:
    with transaction.atomic():
        voucher = _lock_for_settle(voucher_id=voucher_id)
        if voucher is None or voucher.status != Voucher.Status.PENDING:
            return FulfilResult(FulfilResult.SKIPPED, reason="not pending")
        return _fail_locked(voucher=voucher, reason=reason)


def _fail_locked(*, voucher: Voucher, reason: str) -> FulfilResult:
    """Final failure, under the settle locks: the voucher fails, the points hold is released and
    the stock unit returns (a movement row), all in the caller's transaction."""
    voucher.status = Voucher.Status.FAILED
    voucher.failure_reason = reason[:FAILURE_REASON_MAX_LENGTH]
    voucher.code = None
    voucher.pin = ""
    voucher.valid_till = None
    voucher.issued_at = None
    voucher.save(
        update_fields=[
            "status",
            "failure_reason",
            "code",
            "pin",
            "valid_till",
            "issued_at",
            "updated_at",
        ]
    )
    # Points before stock: a group hold locks the group row, which comes before reward rows.
    reward_issue_voucher_settled(voucher=voucher)
    reward_stock_return(
        reward_id=voucher.reward_id,
        units=1,
        reason=StockMovement.Reason.VOUCHER_FAILED,
        reference=f"voucher:{voucher.pk}",
    )
    if voucher.order_id is not None:
        order_status_refresh(order_id=voucher.order_id)
    logger.warning("voucher %s: failed (%s)", voucher.pk, reason)
    return FulfilResult(FulfilResult.FAILED, reason=reason)


def order_status_refresh(*, order_id: int) -> str:
    """Set the order's status from its vouchers: `pending` while any is pending, else `failed`
    when all failed, `partially_fulfilled` when some did, `fulfilled` otherwise (issued, expired
    and redeemed vouchers were all delivered). Runs in the caller's transaction; the caller
    holds the order's row lock when several vouchers may settle at once."""
    counts = Voucher.objects.filter(order_id=order_id).aggregate(
        total=Count("id"),
        pending=Count("id", filter=Q(status=Voucher.Status.PENDING)),
        failed=Count("id", filter=Q(status=Voucher.Status.FAILED)),
    )
    if counts["pending"]:
        status = Order.Status.PENDING
    elif not counts["failed"]:
        status = Order.Status.FULFILLED
    elif counts["failed"] == counts["total"]:
        status = Order.Status.FAILED
    else:
        status = Order.Status.PARTIALLY_FULFILLED
    Order.objects.filter(pk=order_id).exclude(status=status).update(status=status)
    return status


# --- Enqueueing, the sweep, expiry -----------------------------------------------------------


def vouchers_enqueue(*, voucher_ids: Sequence[int]) -> list[int]:
    """Send one fulfilment task per voucher and stamp `enqueued_at` on those sent. Call it only
    after the vouchers are committed (transaction.on_commit). Never raises: the order is already
    committed, and a voucher whose task could not be sent is found by the sweep later. Returns
    the ids sent."""
    from .tasks import fulfil_voucher  # the tasks module imports this one

    sent: list[int] = []
    for voucher_id in voucher_ids:
        try:
            fulfil_voucher.delay(voucher_id)
        except BrokerError:
            logger.exception(
                "broker unavailable: %d voucher(s) left for the pending sweep",
                len(voucher_ids) - len(sent),
            )
            break
        except Exception:
            # Eager mode runs the task here; its errors must not fail the committed request.
            logger.exception("fulfilment of voucher %s failed; the sweep will retry", voucher_id)
            continue
        sent.append(voucher_id)
    if sent:
        Voucher.objects.filter(pk__in=sent).update(enqueued_at=timezone.now())
    return sent


def vouchers_pending_sweep(*, limit: int = 500) -> list[int]:
    """Re-send vouchers that have been pending for VOUCHER_PENDING_SWEEP_AFTER seconds with no
    task sent and no vendor call made in that time: their message was lost (broker outage,
    killed worker, publish failure). A task still queued or running is harmless to duplicate
    (the fulfilment is idempotent), so this errs on the side of sending. Returns the ids sent."""
    cutoff = timezone.now() - dt.timedelta(seconds=settings.VOUCHER_PENDING_SWEEP_AFTER)
    ids = list(
        Voucher.objects.filter(status=Voucher.Status.PENDING)
        .annotate(last_sent=Coalesce("enqueued_at", "created_at"))
        .filter(last_sent__lt=cutoff)
        .filter(Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lt=cutoff))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    if ids:
        logger.warning("sweep: re-sending %d pending voucher(s)", len(ids))
        return vouchers_enqueue(voucher_ids=ids)
    return []


def vouchers_expire(*, today: dt.date | None = None, batch_size: int = 1_000) -> int:
    """Mark issued vouchers whose `valid_till` has passed as expired (a voucher is valid through
    its valid_till day, in TIME_ZONE). In batches, so no long lock. Returns how many."""
    today = today or timezone.localdate()
    expired = 0
    while True:
        ids = list(
            Voucher.objects.filter(status=Voucher.Status.ISSUED, valid_till__lt=today)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return expired
        expired += Voucher.objects.filter(pk__in=ids, status=Voucher.Status.ISSUED).update(
            status=Voucher.Status.EXPIRED, updated_at=timezone.now()
        )
