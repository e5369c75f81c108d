"""Reads for orders: scoped querysets with their line items and vouchers prefetched, so a page of
orders costs the same fixed number of queries whatever its size."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from companies.models import Company
from customers.models import Customer
from rewards.models import Reward, Sku

from .models import LineItem, Order, Voucher


def orders_with_details(queryset: QuerySet[Order]) -> QuerySet[Order]:
    """Two prefetch queries for any number of orders (line items; vouchers joined to their line
    item, whose SKU the wire shape shows)."""
    return queryset.prefetch_related(
        Prefetch("line_items", queryset=LineItem.objects.order_by("id")),
        Prefetch("vouchers", queryset=Voucher.objects.select_related("line_item").order_by("id")),
    )


def day_start(day: dt.date) -> dt.datetime:
    """Midnight of `day` in TIME_ZONE."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def created_between(
    queryset: QuerySet[Any], *, day_from: dt.date | None, day_to: dt.date | None
) -> QuerySet[Any]:
    """Rows created on `day_from` .. `day_to`, both days included; None is an open end, and so
    is the calendar's last day (it has no next day to stop before)."""
    if day_from is not None:
        queryset = queryset.filter(created_at__gte=day_start(day_from))
    if day_to is not None and day_to < dt.date.max:
        queryset = queryset.filter(created_at__lt=day_start(day_to + dt.timedelta(days=1)))
    return queryset


def order_list(
    *,
    company: Company,
    customer: Customer | None = None,
    created_from: dt.date | None = None,
    created_to: dt.date | None = None,
    status: str | None = None,
    customer_mobile: str | None = None,
) -> QuerySet[Order]:
    """The company's orders, newest first; only `customer`'s when given. Dates are inclusive
    calendar days (in TIME_ZONE) on `created_at`, compared as a range so the index is used."""
    queryset = Order.objects.filter(company=company)
    if customer is not None:
        queryset = queryset.filter(customer=customer)
    queryset = created_between(queryset, day_from=created_from, day_to=created_to)
    if status:
        queryset = queryset.filter(status=status)
    if customer_mobile:
        queryset = queryset.filter(customer__mobile=customer_mobile)
    return orders_with_details(queryset.order_by("-created_at", "-id"))


def order_get(
    *, company: Company, public_id: str, customer: Customer | None = None
) -> Order | None:
    """One order of the company (of the customer when given); None when it does not exist or
    belongs to someone else (the caller answers 404 either way, never revealing which)."""
    queryset = Order.objects.filter(company=company, public_id=public_id)
    if customer is not None:
        queryset = queryset.filter(customer=customer)
    return orders_with_details(queryset).first()


def order_get_for_answer(*, pk: int) -> Order:
    return orders_with_details(Order.objects.filter(pk=pk)).get()


def rewards_for_skus(*, company: Company, codes: Iterable[str]) -> dict[str, Reward]:
    """The rewards the given SKU codes earn, by normalised code, in one query.

    A SKU matches when its reward is active, or sold out (a limited reward whose stock reached 0
    was switched to status 0 automatically): the order must then be refused as out of stock, not
    accepted with the line silently unmatched. A reward staff switched off (stock left, or
    unlimited), outside its start/end window, or past its `valid_until` earns nothing."""
    normalized = {Sku.normalize(code) for code in codes}
    if not normalized:
        return {}
    now = timezone.now()
    sold_out = Q(reward__status=Reward.Status.INACTIVE, reward__qty=0)
    skus = (
        Sku.objects.filter(company=company, reward__company=company, code_normalized__in=normalized)
        .filter(Q(reward__status=Reward.Status.ACTIVE) | sold_out)
        .filter(Q(reward__starts_at__isnull=True) | Q(reward__starts_at__lte=now))
        .filter(Q(reward__ends_at__isnull=True) | Q(reward__ends_at__gt=now))
        .filter(
            Q(reward__valid_until__isnull=True)
            | Q(reward__valid_until__gte=timezone.localdate(now))
        )
        .select_related("reward")
    )
    return {sku.code_normalized: sku.reward for sku in skus}
