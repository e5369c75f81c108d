"""The points engine. Every change locks the customer row, moves the counters on Customer (or on
a CustomerGroup's pool) and writes one ledger row, in one transaction. It knows customers and the
catalog, not orders: an order or an issue is only a reference string here.

Lock order, for the whole project: the customer row first, then (group loyalty) the group row,
then reward rows in primary-key order. Every flow that touches several takes them in that order,
so two flows can never deadlock. A group change locks the acting member first and the group
second: two members of one group queue on the group row, never in a cycle.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable
from decimal import ROUND_FLOOR, Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from config.api.errors import ApplicationError
from customers.models import Customer

from .models import CustomerGroup, PointsLedgerEntry, ValidationCode

Kind = PointsLedgerEntry.Kind

logger = logging.getLogger(__name__)


def points_for_amount(*, amount: Decimal, rate: Decimal) -> int:
    """Whole points for a purchase: amount * rate, rounded down (never over-award)."""
    return int((amount * rate).to_integral_value(rounding=ROUND_FLOOR))


def customer_lock(*, customer_id: int) -> Customer:
    """Take the customer's row lock (first in the project's lock order)."""
    return Customer.objects.select_for_update().get(pk=customer_id)


def group_lock(*, group_id: int) -> CustomerGroup:
    """Take the group's row lock (after the acting customer's, before any reward's)."""
    return CustomerGroup.objects.select_for_update().get(pk=group_id)


def _apply(
    *,
    customer: Customer,
    kind: str,
    points: int = 0,
    held: int = 0,
    reason: str,
    reference: str = "",
    actor=None,
    group: CustomerGroup | None = None,
) -> PointsLedgerEntry:
    """Move the counters of `customer`, or of `group`'s pool when given (then `customer` is the
    member who acted and is named on the ledger row), and write the ledger row."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("points changes must run inside a transaction")
    locked = customer_lock(customer_id=customer.pk)
    holder: Customer | CustomerGroup = locked
    model: type[Customer] | type[CustomerGroup] = Customer
    if group is not None:
        if group.company_id != locked.company_id:
            raise ValueError("the group belongs to another company than the customer")
        holder = group_lock(group_id=group.pk)
        model = CustomerGroup
    balance = holder.points_balance + points
    held_total = holder.points_held + held
    if balance < 0 or held_total < 0 or held_total > balance:
        raise ApplicationError(
            "Not enough points" if group is None else "Not enough points in the group's pool",
            type="insufficient_points",
            extra={"available": holder.points_available},
        )
    model.objects.filter(pk=holder.pk).update(points_balance=balance, points_held=held_total)
    target = customer if group is None else group
    target.points_balance, target.points_held = balance, held_total
    return PointsLedgerEntry.objects.create(
        company_id=locked.company_id,
        customer=locked,
        group=group,
        kind=kind,
        points=points,
        held=held,
        balance_after=balance,
        held_after=held_total,
        reason=reason,
        reference=reference,
        actor=actor,
    )


@transaction.atomic
def points_earn(
    *,
    customer: Customer,
    points: int,
    reason: str,
    reference: str = "",
    group: CustomerGroup | None = None,
) -> PointsLedgerEntry | None:
    if points <= 0:
        return None
    return _apply(
        customer=customer,
        kind=Kind.EARN,
        points=points,
        reason=reason,
        reference=reference,
        group=group,
    )


@transaction.atomic
def points_spend(
    *,
    customer: Customer,
    points: int,
    reason: str,
    reference: str = "",
    group: CustomerGroup | None = None,
) -> PointsLedgerEntry:
    if points <= 0:
        raise ValueError("spend a positive number of points")
    return _apply(
        customer=customer,
        kind=Kind.SPEND,
        points=-points,
        reason=reason,
        reference=reference,
        group=group,
    )


@transaction.atomic
def points_hold(
    *,
    customer: Customer,
    points: int,
    reason: str,
    reference: str = "",
    group: CustomerGroup | None = None,
) -> PointsLedgerEntry:
    if points <= 0:
        raise ValueError("hold a positive number of points")
    return _apply(
        customer=customer,
        kind=Kind.HOLD,
        held=points,
        reason=reason,
        reference=reference,
        group=group,
    )


@transaction.atomic
def points_capture(
    *,
    customer: Customer,
    points: int,
    reason: str,
    reference: str = "",
    group: CustomerGroup | None = None,
) -> PointsLedgerEntry:
    """A held amount becomes spent: it leaves the balance and the hold together."""
    return _apply(
        customer=customer,
        kind=Kind.CAPTURE,
        points=-points,
        held=-points,
        reason=reason,
        reference=reference,
        group=group,
    )


@transaction.atomic
def points_release(
    *,
    customer: Customer,
    points: int,
    reason: str,
    reference: str = "",
    group: CustomerGroup | None = None,
) -> PointsLedgerEntry:
    return _apply(
        customer=customer,
        kind=Kind.RELEASE,
        held=-points,
        reason=reason,
        reference=reference,
        group=group,
    )


@transaction.atomic
def points_adjust(
    *,
    customer: Customer,
    points: int,
    reason: str,
    actor=None,
    reference: str = "",
    group: CustomerGroup | None = None,
) -> PointsLedgerEntry:
    """A staff correction (±) with a reason; never below zero or below what is held."""
    if points == 0 or not reason.strip():
        raise ApplicationError(
            "An adjustment needs a non-zero amount and a reason", type="validation_error"
        )
    return _apply(
        customer=customer,
        kind=Kind.ADJUST,
        points=points,
        reason=reason.strip(),
        reference=reference,
        actor=actor,
        group=group,
    )


# --- Validation codes (issue calls made without skip_validation=true) ------------------------

VALIDATION_CODE_DIGITS = 6


def validation_code_ttl() -> dt.timedelta:
    return dt.timedelta(seconds=settings.LOYALTY_VALIDATION_CODE_TTL_SECONDS)


def _validation_code_max_attempts() -> int:
    return settings.LOYALTY_VALIDATION_CODE_MAX_ATTEMPTS


def _validation_codes_per_hour() -> int:
    return settings.LOYALTY_VALIDATION_CODES_PER_HOUR


def validation_code_digest(*, customer_id: int, code: str) -> str:
    """HMAC of the code, keyed by SECRET_KEY and bound to the customer: the table alone (a
    backup, a read replica) does not reveal codes, and a digest is useless for another customer."""
    message = f"{customer_id}:{code.strip()}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def _invalid_code(message: str) -> ApplicationError:
    return ApplicationError(message, type="validation_code_invalid", status=422)


@transaction.atomic
def validation_code_send(*, customer: Customer) -> ValidationCode:
    """Make a new code for `customer`, retire their earlier live ones, and e-mail it after commit.
    At most LOYALTY_VALIDATION_CODES_PER_HOUR codes an hour per customer (rate_limited, 429)."""
    if not customer.email:
        raise ApplicationError(
            "The customer has no e-mail address to send a validation code to",
            type="validation_error",
            status=422,
            errors={"email": ["the customer has no e-mail address"]},
        )
    locked = customer_lock(customer_id=customer.pk)  # serialises sends: the hourly count holds
    now = timezone.now()
    recent = ValidationCode.objects.filter(
        customer=locked, created_at__gte=now - dt.timedelta(hours=1)
    ).count()
    if recent >= _validation_codes_per_hour():
        raise ApplicationError(
            "Too many validation codes requested; try again later", type="rate_limited", status=429
        )
    ValidationCode.objects.filter(customer=locked, used_at__isnull=True, expires_at__gt=now).update(
        expires_at=now
    )
    code = f"{secrets.randbelow(10**VALIDATION_CODE_DIGITS):0{VALIDATION_CODE_DIGITS}d}"
    ttl = validation_code_ttl()
    record = ValidationCode.objects.create(
        company_id=locked.company_id,
        customer=locked,
        digest=validation_code_digest(customer_id=locked.pk, code=code),
        expires_at=now + ttl,
    )
    minutes = max(1, int(ttl.total_seconds() // 60))
    email = locked.email

    def send() -> None:
        try:
            send_mail(
                subject="Your validation code",
                message=f"Your validation code is {code}. It is valid for {minutes} minutes.",
                from_email=None,
                recipient_list=[email],
            )
        except Exception as exc:
            # A code nobody received must neither work nor count against the hourly limit.
            logger.warning("validation code e-mail failed for customer %s", record.customer_id)
            ValidationCode.objects.filter(pk=record.pk).delete()
            raise ApplicationError(
                "The validation code could not be sent; try again later",
                type="mail_unavailable",
                status=503,
            ) from exc

    # After commit: no e-mail for a code that was rolled back. (Sent here rather than by a
    # task, so the plain code never sits in the broker.)
    transaction.on_commit(send)
    return record


def validation_code_verify(*, customer: Customer, code: str) -> int:
    """Check `code` against the customer's latest code and return its id; raise
    validation_code_invalid (422) when it is wrong, expired, used or out of attempts. A wrong
    code counts an attempt, committed here even though the call then fails. The code is used up
    only by validation_code_consume, inside the transaction that issues."""
    failure: ApplicationError | None = None
    with transaction.atomic():
        record = (
            ValidationCode.objects.select_for_update()
            .filter(customer=customer)
            .order_by("-created_at", "-id")
            .first()
        )
        now = timezone.now()
        if record is None:
            failure = _invalid_code("No validation code was sent to this customer")
        elif record.used_at is not None:
            failure = _invalid_code("The validation code was already used")
        elif record.expires_at <= now:
            failure = _invalid_code("The validation code has expired")
        elif record.attempts >= _validation_code_max_attempts():
            failure = _invalid_code("Too many wrong attempts; request a new validation code")
        elif not hmac.compare_digest(
            record.digest, validation_code_digest(customer_id=customer.pk, code=str(code))
        ):
            ValidationCode.objects.filter(pk=record.pk).update(attempts=F("attempts") + 1)
            failure = _invalid_code("The validation code is wrong")
    if failure is not None:
        raise failure
    assert record is not None
    return record.pk


def validation_code_consume(*, code_id: int) -> None:
    """Use the code up, inside the caller's transaction (the issue's): if the issue is refused
    and rolls back, the code stays usable. Of two calls racing with one code, one wins."""
    used = ValidationCode.objects.filter(
        pk=code_id, used_at__isnull=True, expires_at__gt=timezone.now()
    ).update(used_at=timezone.now())
    if used != 1:
        raise _invalid_code("The validation code was already used or has expired")


# --- Customer groups (the back-office) ------------------------------------------------------

GROUP_FIELDS = ("company", "name", "external_id", "primary_customer")


@transaction.atomic
def customer_group_save(
    *, group: CustomerGroup, members: Iterable[Customer] | None = None
) -> CustomerGroup:
    """Save a group's name, external id, primary member and (when given) members. Never its
    points: they move only through the ledger, and writing counters read earlier would undo a
    concurrent change (so only the listed columns are written). Everyone in the group belongs
    to its company; the primary member is a member."""
    people = list(members) if members is not None else None
    strangers = [
        c for c in [group.primary_customer, *(people or [])] if c.company_id != group.company_id
    ]
    if strangers:
        raise ApplicationError(
            "Group members must be customers of the group's company",
            type="validation_error",
            errors={"members": [str(c) for c in strangers]},
        )
    if group.pk is None:
        group.points_balance = group.points_held = 0
        group.save()
    else:
        group.save(update_fields=GROUP_FIELDS)
    if people is not None:
        group.members.set(people)
    group.members.add(group.primary_customer)
    return group
