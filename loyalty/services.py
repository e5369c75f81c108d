"""The points engine. Every change locks the customer row, moves the counters on Customer (or on
a CustomerGroup's pool) and writes one ledger row, in one transaction. It knows customers and the
catalog, not orders: an order or an issue is only a reference string here.

Lock order, for the whole project: the customer row first, then (group loyalty) the group row,
then reward rows in primary-key order. Every flow that touches several takes them in that order,
so two flows can never deadlock. A group change locks the acting member first and the group
second: two members of one group queue on the group row, never in a cycle.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from django.db import transaction

from config.api.errors import ApplicationError
from customers.models import Customer

from .models import CustomerGroup, PointsLedgerEntry

Kind = PointsLedgerEntry.Kind


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
