from __future__ import annotations

from django.db.models import QuerySet, Sum

from customers.models import Customer

from .models import CustomerGroup, PointsLedgerEntry


def ledger_for_customer(*, customer: Customer) -> QuerySet[PointsLedgerEntry]:
    return PointsLedgerEntry.objects.filter(customer=customer, group__isnull=True).order_by("-id")


def balances_from_ledger(*, customer: Customer) -> tuple[int, int]:
    """(balance, held) recomputed from the ledger alone: must equal the counters on Customer."""
    sums = PointsLedgerEntry.objects.filter(customer=customer, group__isnull=True).aggregate(
        balance=Sum("points"), held=Sum("held")
    )
    return sums["balance"] or 0, sums["held"] or 0


def ledger_for_group(*, group: CustomerGroup) -> QuerySet[PointsLedgerEntry]:
    return PointsLedgerEntry.objects.filter(group=group).order_by("-id")


def group_balances_from_ledger(*, group: CustomerGroup) -> tuple[int, int]:
    """(balance, held) of a group's pool recomputed from its ledger rows alone."""
    sums = PointsLedgerEntry.objects.filter(group=group).aggregate(
        balance=Sum("points"), held=Sum("held")
    )
    return sums["balance"] or 0, sums["held"] or 0
