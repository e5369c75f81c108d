"""The points engine. Every change locks the customer row, moves the counters on Customer and
writes one ledger row, in one transaction. It knows customers and the catalog, not orders: an
order is only a reference string here.

Lock order, for the whole project: the customer row first, then reward rows in primary-key order.
Every flow that touches both takes them in that order, so two flows can never deadlock.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from django.db import transaction

from config.api.errors import ApplicationError
from customers.models import Customer

from .models import PointsLedgerEntry

Kind = PointsLedgerEntry.Kind


def points_for_amount(*, amount: Decimal, rate: Decimal) -> int:
    """Whole points for a purchase: amount * rate, rounded down (never over-award)."""
    return int((amount * rate).to_integral_value(rounding=ROUND_FLOOR))


def customer_lock(*, customer_id: int) -> Customer:
    """Take the customer's row lock (first in the project's lock order)."""
    return Customer.objects.select_for_update().get(pk=customer_id)


def _apply(
    *,
    customer: Customer,
    kind: str,
    points: int = 0,
    held: int = 0,
    reason: str,
    reference: str = "",
    actor=None,
) -> PointsLedgerEntry:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("points changes must run inside a transaction")
    locked = customer_lock(customer_id=customer.pk)
    balance = locked.points_balance + points
    held_total = locked.points_held + held
    if balance < 0 or held_total < 0 or held_total > balance:
        raise ApplicationError(
            "Not enough points",
            type="insufficient_points",
            extra={"available": locked.points_available},
        )
    Customer.objects.filter(pk=locked.pk).update(points_balance=balance, points_held=held_total)
    customer.points_balance, customer.points_held = balance, held_total
    return PointsLedgerEntry.objects.create(
        company_id=locked.company_id,
        customer=locked,
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
    *, customer: Customer, points: int, reason: str, reference: str = ""
) -> PointsLedgerEntry | None:
    if points <= 0:
        return None
    return _apply(
        customer=customer, kind=Kind.EARN, points=points, reason=reason, reference=reference
    )


@transaction.atomic
def points_spend(
    *, customer: Customer, points: int, reason: str, reference: str = ""
) -> PointsLedgerEntry:
    if points <= 0:
        raise ValueError("spend a positive number of points")
    return _apply(
        customer=customer, kind=Kind.SPEND, points=-points, reason=reason, reference=reference
    )


@transaction.atomic
def points_hold(
    *, customer: Customer, points: int, reason: str, reference: str = ""
) -> PointsLedgerEntry:
    if points <= 0:
        raise ValueError("hold a positive number of points")
    return _apply(
        customer=customer, kind=Kind.HOLD, held=points, reason=reason, reference=reference
    )


@transaction.atomic
def points_capture(
    *, customer: Customer, points: int, reason: str, reference: str = ""
) -> PointsLedgerEntry:
    """A held amount becomes spent: it leaves the balance and the hold together."""
    return _apply(
        customer=customer,
        kind=Kind.CAPTURE,
        points=-points,
        held=-points,
        reason=reason,
        reference=reference,
    )


@transaction.atomic
def points_release(
    *, customer: Customer, points: int, reason: str, reference: str = ""
) -> PointsLedgerEntry:
    return _apply(
        customer=customer, kind=Kind.RELEASE, held=-points, reason=reason, reference=reference
    )


@transaction.atomic
def points_adjust(
    *, customer: Customer, points: int, reason: str, actor=None, reference: str = ""
) -> PointsLedgerEntry:
    if points == 0 or not reason.strip():
        raise ApplicationError(
            "An adjustment needs a non-zero amount and a reason", type="validation_error"
        )
    return _apply(
        customer=customer,
        kind=Kind.ADJUST,
        points=points,
        reason=reason,
        reference=reference,
        actor=actor,
    )
