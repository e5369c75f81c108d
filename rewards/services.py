"""Writes for the catalog: stock changes (always with a movement row) and code pools.

Lock order, for the whole project: a customer row first (loyalty.services.customer_lock), then
reward rows in primary-key order. Taking reward locks in one sorted `SELECT ... FOR UPDATE`
means two orders naming the same rewards in opposite line order queue instead of deadlocking.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.db import transaction
from django.utils import timezone

from config.api.errors import ApplicationError

from .models import PoolCode, Reward, StockMovement


class OutOfStock(ApplicationError):
    def __init__(self, reward_ids: list[int]) -> None:
        super().__init__("Not enough stock", type="out_of_stock", extra={"reward_ids": reward_ids})
        self.reward_ids = reward_ids


def rewards_lock(*, reward_ids: Iterable[int]) -> dict[int, Reward]:
    """Lock the rewards' rows in primary-key order and return them by id."""
    ids = sorted(set(reward_ids))
    if not ids:
        return {}
    return {r.pk: r for r in Reward.objects.select_for_update().filter(pk__in=ids).order_by("pk")}


def _set_qty(*, reward: Reward, qty: int) -> None:
    # A limited reward that runs out goes inactive in the same transaction, so qty "0" with
    # status 1 on the wire always means unlimited.
    fields = {"qty": qty}
    if qty == 0:
        fields["status"] = Reward.Status.INACTIVE
    Reward.objects.filter(pk=reward.pk).update(**fields, updated_at=timezone.now())
    reward.qty = qty
    if qty == 0:
        reward.status = Reward.Status.INACTIVE


def reward_stock_take(
    *,
    quantities: Mapping[int, int],
    reason: str,
    reference: str = "",
    actor=None,
) -> dict[int, Reward]:
    """Take `quantities` (reward id → units) from stock, all or nothing. Must run inside the
    caller's transaction. Raises OutOfStock naming every reward that is short."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("reward_stock_take must run inside a transaction")
    locked = rewards_lock(reward_ids=quantities)
    short = [
        rid
        for rid, n in sorted(quantities.items())
        if rid not in locked
        or locked[rid].status != Reward.Status.ACTIVE
        or (locked[rid].qty is not None and locked[rid].qty < n)
    ]
    if short:
        raise OutOfStock(short)
    for rid, n in sorted(quantities.items()):
        reward = locked[rid]
        if reward.qty is None or n == 0:
            continue  # unlimited: nothing to count, nothing to record
        _set_qty(reward=reward, qty=reward.qty - n)
        StockMovement.objects.create(
            reward=reward,
            delta=-n,
            qty_after=reward.qty,
            reason=reason,
            reference=reference,
            actor=actor,
        )
    return locked


@transaction.atomic
def reward_stock_return(
    *, reward_id: int, units: int, reason: str, reference: str = "", actor=None
) -> Reward:
    """Give units back (a failed voucher). Does not re-activate a reward staff switched off."""
    reward = rewards_lock(reward_ids=[reward_id])[reward_id]
    if reward.qty is None:
        return reward
    new_qty = reward.qty + units
    Reward.objects.filter(pk=reward.pk).update(qty=new_qty, updated_at=timezone.now())
    reward.qty = new_qty
    StockMovement.objects.create(
        reward=reward,
        delta=units,
        qty_after=new_qty,
        reason=reason,
        reference=reference,
        actor=actor,
    )
    return reward


@transaction.atomic
def reward_stock_adjust(
    *,
    reward: Reward,
    delta: int,
    note: str,
    actor=None,
    reason: str = StockMovement.Reason.ADJUSTMENT,
) -> Reward:
    """An admin restock (+) or correction (±), recorded with who and why. A restock of a reward
    that had run out makes it active again."""
    if delta == 0:
        raise ApplicationError("The adjustment must change the stock", type="validation_error")
    if not note.strip():
        raise ApplicationError("Say why the stock changes", type="validation_error")
    locked = rewards_lock(reward_ids=[reward.pk])[reward.pk]
    if locked.qty is None:
        raise ApplicationError("This reward has unlimited stock", type="unlimited_stock")
    new_qty = locked.qty + delta
    if new_qty < 0:
        raise ApplicationError(
            f"Stock cannot go below zero (it is {locked.qty})", type="stock_negative"
        )
    fields: dict = {"qty": new_qty, "updated_at": timezone.now()}
    if new_qty == 0:
        fields["status"] = Reward.Status.INACTIVE
    elif locked.qty == 0 and delta > 0:
        fields["status"] = Reward.Status.ACTIVE
    Reward.objects.filter(pk=locked.pk).update(**fields)
    StockMovement.objects.create(
        reward=locked, delta=delta, qty_after=new_qty, reason=reason, note=note, actor=actor
    )
    locked.refresh_from_db()
    return locked


def pool_codes_take(*, reward: Reward, count: int) -> list[PoolCode]:
    """Hand out `count` unassigned pool codes, each at most once, under concurrency: rows another
    transaction has locked are skipped rather than waited for. Runs in the caller's transaction."""
    codes = list(
        PoolCode.objects.select_for_update(skip_locked=True)
        .filter(reward=reward, assigned_at__isnull=True)
        .order_by("id")[:count]
    )
    if len(codes) < count:
        raise OutOfStock([reward.pk])
    now = timezone.now()
    PoolCode.objects.filter(pk__in=[c.pk for c in codes]).update(assigned_at=now)
    return codes
