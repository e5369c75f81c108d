"""What a reward costs in points, and whether a customer may have it now: the one place the
Loyalty API's is-redeemable check and the issue call price and vet rewards.

Rounding (documented in docs/loyalty.md):
* Every quantity is truncated to a whole number first (1.56 → 1, as the seed says); the result
  must be at least 1.
* POINTS mode: points = points_cost * quantity (exact; one voucher per unit).
* CONV_RATIO mode: the quantity is a value in the reward's unit (miles, currency, ...) and
  `conversion_ratio` is units per point, so points = quantity / ratio, rounded UP: the customer
  never gets a fraction of a point's worth for free. One voucher carries the whole value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal, InvalidOperation, localcontext

from django.utils import timezone

from companies.models import Company
from customers.models import Customer
from rewards.models import Reward
from rewards.services import rewards_lock

from .models import CustomerGroup

# Bounds of one rewards[i] of an issue call (docs/loyalty.md). POINTS mode issues one voucher per
# unit, so its quantity is small; a CONV_RATIO quantity is a value and may be large.
MAX_UNITS_POINTS_MODE = 100
MAX_QUANTITY_CONV_RATIO = 1_000_000_000
# A CONV_RATIO voucher carries the whole value (denomination x quantity) in a column of 12 digits,
# 2 of them decimals (orders.Voucher.denomination_value): more would overflow it, a 500.
MAX_VOUCHER_VALUE = Decimal("9999999999.99")


class Refusal(Exception):
    """Why one reward cannot be issued. `type` is an ApplicationError type, so the Loyalty API
    maps it to its numeric code (config.api.loyalty.CODE_FOR_TYPE)."""

    def __init__(self, type: str, message: str) -> None:
        super().__init__(message)
        self.type = type
        self.message = message


@dataclass(frozen=True)
class Quote:
    """A priced reward: how many units were asked (truncated), how many vouchers and stock units
    that makes, and the points it costs."""

    quantity: int
    vouchers: int
    points: int
    points_per_voucher: int


def quantity_truncate(quantity: Decimal) -> int:
    """The whole part of `quantity` (toward zero). Not finite: 0, which every caller refuses."""
    if not quantity.is_finite():
        return 0
    if quantity.adjusted() > 18:  # far above every limit; never build a huge int
        return 10**18
    try:
        return int(quantity.to_integral_value(rounding=ROUND_DOWN))
    except (InvalidOperation, OverflowError, ValueError):
        return 0


def points_for(*, reward: Reward, quantity: int) -> int:
    """Points for `quantity` whole units of `reward` (see the module's rounding rules)."""
    if reward.payment_mode == Reward.PaymentMode.CONV_RATIO:
        ratio = reward.conversion_ratio
        if ratio is None or ratio <= 0:
            raise Refusal("not_payable", "This reward has no conversion ratio")
        with localcontext() as ctx:
            ctx.prec = 50  # exact for any quantity and ratio the columns can hold
            return int((Decimal(quantity) / ratio).to_integral_value(rounding=ROUND_CEILING))
    if reward.points_cost is None:
        raise Refusal("not_payable", "This reward has no points price")
    return reward.points_cost * quantity


def reward_quote(*, reward: Reward, quantity: Decimal) -> Quote:
    """Price `quantity` of `reward`, or raise Refusal (invalid_quantity, not_payable)."""
    units = quantity_truncate(quantity)
    if units < 1:
        raise Refusal("invalid_quantity", "The quantity must be at least 1 (decimals are dropped)")
    if reward.payment_mode == Reward.PaymentMode.CONV_RATIO:
        if units > MAX_QUANTITY_CONV_RATIO:
            raise Refusal(
                "invalid_quantity", f"The quantity must be at most {MAX_QUANTITY_CONV_RATIO}"
            )
        if reward.denomination_value * units > MAX_VOUCHER_VALUE:
            raise Refusal(
                "invalid_quantity",
                f"The quantity is worth more than a voucher can hold ({MAX_VOUCHER_VALUE})",
            )
        points = points_for(reward=reward, quantity=units)
        return Quote(quantity=units, vouchers=1, points=points, points_per_voucher=points)
    if units > MAX_UNITS_POINTS_MODE:
        raise Refusal("invalid_quantity", f"The quantity must be at most {MAX_UNITS_POINTS_MODE}")
    per_unit = points_for(reward=reward, quantity=1)
    return Quote(
        quantity=units, vouchers=units, points=per_unit * units, points_per_voucher=per_unit
    )


def in_segment(*, reward: Reward, customer: Customer) -> bool:
    """A reward with segments may go only to a customer in one of them (trimmed, any case)."""
    allowed = {str(s).strip().lower() for s in reward.segments or []}
    if not allowed:
        return True
    return bool(allowed & {str(s).strip().lower() for s in customer.segments or []})


def reward_refusal(*, reward: Reward, customer: Customer, now: dt.datetime | None = None) -> None:
    """Raise Refusal when `customer` may not have `reward` now (stock is checked separately,
    under the reward's row lock). Order: status, window, segment, vendor."""
    now = now or timezone.now()
    if reward.status != Reward.Status.ACTIVE:
        if reward.qty == 0:  # a limited reward that sold out is switched off automatically
            raise Refusal("out_of_stock", "The reward is out of stock")
        raise Refusal("reward_inactive", "The reward is not active")
    if reward.starts_at is not None and reward.starts_at > now:
        raise Refusal("outside_window", "The reward has not started yet")
    if reward.ends_at is not None and reward.ends_at <= now:
        raise Refusal("outside_window", "The reward has ended")
    if reward.valid_until is not None and reward.valid_until < timezone.localdate(now):
        raise Refusal("outside_window", "The reward's vouchers are no longer valid")
    if not in_segment(reward=reward, customer=customer):
        raise Refusal("not_in_segment", "The customer is not in a segment this reward is for")
    if reward.fulfilment == Reward.Fulfilment.VENDOR and (
        reward.vendor_id is None or not reward.vendor.is_active or not reward.vendor_product_code
    ):
        raise Refusal("vendor_failed", "The reward's vendor is not available")


# --- Pricing a list of {rewardId, quantity, orgId} --------------------------------------------


@dataclass(frozen=True)
class Ask:
    """One reward asked for: `org_id` None means the calling company's own catalog."""

    reward_id: int
    quantity: Decimal
    org_id: int | None = None


@dataclass
class Priced:
    ask: Ask
    org_id: int
    reward: Reward | None = None
    quote: Quote | None = None
    refusal: Refusal | None = None

    @property
    def ok(self) -> bool:
        return self.refusal is None and self.quote is not None


def rewards_price(
    *,
    company: Company,
    customer: Customer,
    asks: Sequence[Ask],
    scope: frozenset[int],
    lock: bool = False,
    now: dt.datetime | None = None,
) -> list[Priced]:
    """Price and vet each ask, in order. Each gets a Quote, or a Refusal saying why it cannot be
    issued now: org outside the call's scope, unknown reward (or another org's: never revealed),
    not payable with points, bad quantity, inactive, outside its window, not in its segment,
    vendor unavailable, or short of stock (counting what earlier asks of the list take).

    With `lock`, the rewards' rows are locked in primary-key order (the caller must already hold
    the customer's, and the group's, lock) so that stock and status cannot change until commit."""
    now = now or timezone.now()
    priced = [Priced(ask=a, org_id=a.org_id or company.pk) for a in asks]
    wanted = {p.ask.reward_id for p in priced if p.org_id in scope}
    found = {
        r.pk: r
        for r in Reward.objects.filter(pk__in=wanted, company_id__in=scope).select_related("vendor")
    }
    if lock and found:
        locked = rewards_lock(reward_ids=found)
        for rid, reward in locked.items():
            reward.vendor = found[rid].vendor  # loaded above; the lock query does not join it
        found = locked
    stock_left = {rid: r.qty for rid, r in found.items() if r.qty is not None}
    for p in priced:
        try:
            if p.org_id not in scope:
                raise Refusal("org_not_in_scope", f"Org {p.org_id} is not in this call's scope")
            reward = found.get(p.ask.reward_id)
            if reward is None or reward.company_id != p.org_id:
                raise Refusal("reward_not_found", f"Unknown reward {p.ask.reward_id}")
            p.reward = reward
            reward_refusal(reward=reward, customer=customer, now=now)
            quote = reward_quote(reward=reward, quantity=p.ask.quantity)
            if reward.pk in stock_left:
                if stock_left[reward.pk] < quote.vouchers:
                    raise Refusal("out_of_stock", "The reward is out of stock")
                stock_left[reward.pk] -= quote.vouchers
            p.quote = quote
        except Refusal as refusal:
            p.refusal = refusal
    return priced


@dataclass(frozen=True)
class Redeemability:
    """The is-redeemable answer: each ask priced or refused, the total and what is available."""

    priced: list[Priced]
    points_required: int
    points_available: int

    @property
    def redeemable(self) -> bool:
        return all(p.ok for p in self.priced) and self.points_required <= self.points_available


def rewards_redeemable(
    *,
    company: Company,
    customer: Customer,
    asks: Sequence[Ask],
    scope: frozenset[int],
    group: CustomerGroup | None = None,
) -> Redeemability:
    """Whether `customer` could pay for `asks` now (from `group`'s pool when given), and how
    many points it would take. Reads only: no lock, no hold, no ledger row; the issue call
    re-checks everything under its locks."""
    priced = rewards_price(company=company, customer=customer, asks=asks, scope=scope)
    holder = group if group is not None else customer
    return Redeemability(
        priced=priced,
        points_required=sum(p.quote.points for p in priced if p.ok and p.quote),
        points_available=holder.points_available,
    )
