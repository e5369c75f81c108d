"""Reads for the Loyalty API's reward calls: a customer's vouchers by brand, an issued reward."""

from __future__ import annotations

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from companies.models import Company
from config.api.errors import ApplicationError
from customers.models import Customer
from rewards.models import Brand

from .models import RewardIssue, Voucher

# sortBy → the voucher column it orders by. The seed names "IntouchPoints" as the default: the
# reward's points cost (intouchPoints), which INTOUCH_POINTS also selects explicitly.
VOUCHER_SORTS = {
    "REWARD_ID": "reward_id",
    "INTOUCH_VOUCHER": "code",
    "INTOUCH_VOUCHER_EXPIRY": "valid_till",
    "PURCHASE_DATE": "created_at",
    "INTOUCH_POINTS": "reward__points_cost",
}
DEFAULT_VOUCHER_SORT = "INTOUCH_POINTS"
VOUCHER_STATUSES = ("active", "expired", "redeemed")


def brands_named(*, name: str, org_ids: frozenset[int]) -> list[Brand]:
    """The brands called `name` (any case) among the given orgs; unknown_brand (404) if none."""
    brands = list(Brand.objects.filter(company_id__in=org_ids, name__iexact=name.strip()))
    if not brands:
        raise ApplicationError(f"Unknown brand {name!r}", type="unknown_brand", status=404)
    return brands


def vouchers_by_brand(
    *,
    customer: Customer,
    brands: list[Brand],
    status: str | None = None,
    sort: str = DEFAULT_VOUCHER_SORT,
    descending: bool = False,
) -> QuerySet[Voucher]:
    """The customer's vouchers of `brands`, with their reward (and order) joined so a page costs
    one query whatever its size.

    status: `active` issued and not past valid_till; `expired` marked expired or past
    valid_till; `redeemed` marked redeemed; none: every voucher except failed ones (pending
    vendor vouchers included, without a code). Ties (and nulls, always last) are broken by id in
    the same direction, so pages never overlap."""
    today = timezone.localdate()
    queryset = Voucher.objects.filter(customer=customer, reward__brand__in=brands)
    if status == "active":
        queryset = queryset.filter(status=Voucher.Status.ISSUED).filter(
            Q(valid_till__isnull=True) | Q(valid_till__gte=today)
        )
    elif status == "expired":
        queryset = queryset.filter(
            Q(status=Voucher.Status.EXPIRED) | Q(status=Voucher.Status.ISSUED, valid_till__lt=today)
        )
    elif status == "redeemed":
        queryset = queryset.filter(status=Voucher.Status.REDEEMED)
    else:
        queryset = queryset.exclude(status=Voucher.Status.FAILED)
    column = F(VOUCHER_SORTS[sort])
    key = column.desc(nulls_last=True) if descending else column.asc(nulls_last=True)
    tie = "-id" if descending else "id"
    return queryset.select_related("reward", "reward__vendor", "order").order_by(key, tie)


def reward_issue_get(*, company: Company, issue_id: int) -> RewardIssue | None:
    """An issued reward (transactionId) of the calling company; None for anyone else's."""
    return RewardIssue.objects.filter(company=company, pk=issue_id).first()
