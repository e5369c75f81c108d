"""Writes for the catalog: rewards and their SKUs, stock changes (always with a movement row) and
code pools. The catalog file import lives beside this module, in `catalog_import.py`.

Lock order, for the whole project: a customer row first (loyalty.services.customer_lock), then
reward rows in primary-key order. Taking reward locks in one sorted `SELECT ... FOR UPDATE`
means two orders naming the same rewards in opposite line order queue instead of deadlocking.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from config.api.errors import ApplicationError

from . import vendor_secrets
from .alerts import low_stock_check, low_stock_rearm
from .models import PoolCode, Reward, Sku, StockMovement, Vendor
from .selectors import pool_codes_free_count

# Stock a single reward may hold. Far below the column's 2^31 so restocks never overflow it.
MAX_STOCK = 100_000_000
POOL_CODE_MAX_LENGTH = PoolCode._meta.get_field("code").max_length


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
    fields: dict[str, Any] = {"qty": qty}
    if qty == 0:
        fields.update(status=Reward.Status.INACTIVE, sold_out=True)
    Reward.objects.filter(pk=reward.pk).update(**fields, updated_at=timezone.now())
    reward.qty = qty
    if qty == 0:
        reward.status, reward.sold_out = Reward.Status.INACTIVE, True


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
        # Under the reward's row lock: one alert per crossing, however many orders race.
        low_stock_check(reward=reward)
    return locked


@transaction.atomic
def reward_stock_return(
    *, reward_id: int, units: int, reason: str, reference: str = "", actor=None
) -> Reward:
    """Give units back (a failed voucher). A reward that a sale had switched off for want of
    stock is switched on again; one that staff switched off stays off."""
    reward = rewards_lock(reward_ids=[reward_id])[reward_id]
    if reward.qty is None:
        return reward
    new_qty = reward.qty + units
    fields: dict[str, Any] = {"qty": new_qty}
    if reward.sold_out and reward.status == Reward.Status.INACTIVE and new_qty > 0:
        fields.update(status=Reward.Status.ACTIVE, sold_out=False)
    Reward.objects.filter(pk=reward.pk).update(**fields, updated_at=timezone.now())
    for name, value in fields.items():
        setattr(reward, name, value)
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
    if new_qty > MAX_STOCK:
        raise ApplicationError(f"Stock cannot exceed {MAX_STOCK}", type="stock_too_large")
    if delta > 0 and locked.fulfilment == Reward.Fulfilment.POOL:
        # A pool reward's stock is its unassigned codes: more stock than codes would sell
        # vouchers that have no code to hand out.
        free = pool_codes_free_count(reward_ids=[locked.pk]).get(locked.pk, 0)
        if new_qty > free:
            raise ApplicationError(
                f"A pool reward cannot hold more stock than its unassigned codes ({free}); "
                "load codes instead",
                type="pool_codes_short",
            )
    fields: dict = {"qty": new_qty, "updated_at": timezone.now()}
    if new_qty == 0:
        fields["status"] = Reward.Status.INACTIVE
    elif locked.qty == 0 and delta > 0:
        fields["status"] = Reward.Status.ACTIVE
    if "status" in fields:
        fields["sold_out"] = False  # staff moved the stock: the status is theirs now
    Reward.objects.filter(pk=locked.pk).update(**fields)
    StockMovement.objects.create(
        reward=locked, delta=delta, qty_after=new_qty, reason=reason, note=note, actor=actor
    )
    locked.refresh_from_db()
    if delta > 0:
        low_stock_rearm(reward=locked)  # a restock above the threshold re-arms the alert
    low_stock_check(reward=locked)
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


# --- Rewards and SKUs (the back-office and the catalog import share these) --------------------


def reward_stock_rules(
    *, status: int, qty: int | None, fulfilment: str, free_pool_codes: int = 0
) -> dict[str, str]:
    """The rules tying status, stock and fulfilment together, as field → message.

    * qty "0" with status 1 means *unlimited* on the wire, so a limited reward with no stock
      left cannot be active.
    * A pool reward's stock is its unassigned codes: it is never unlimited and never holds more
      stock than it has codes."""
    errors: dict[str, str] = {}
    if qty is not None and qty > MAX_STOCK:
        errors["qty"] = f"Must be at most {MAX_STOCK}"
    if qty == 0 and status == Reward.Status.ACTIVE:
        errors["status"] = (
            "A reward with no stock left cannot be active (empty qty means unlimited stock)"
        )
    if fulfilment == Reward.Fulfilment.POOL:
        if qty is None:
            errors["qty"] = "A pool reward's stock is its codes: give a number, not unlimited"
        elif qty > free_pool_codes:
            errors["qty"] = (
                f"A pool reward cannot hold more stock than its unassigned codes "
                f"({free_pool_codes}); load codes to raise it"
            )
    return errors


def stock_movement_initial(*, reward: Reward, note: str, actor: Any = None) -> None:
    """The first movement of a new limited reward, so its stock can be recomputed from the
    ledger. Nothing to record for unlimited stock or an empty start."""
    if reward.qty:
        StockMovement.objects.create(
            reward=reward,
            delta=reward.qty,
            qty_after=reward.qty,
            reason=StockMovement.Reason.RESTOCK,
            note=note,
            actor=actor,
        )


@transaction.atomic
def reward_create(*, reward: Reward, actor: Any = None, note: str = "initial stock") -> Reward:
    """Save a new reward built by a form. A limited stock gets its initial movement."""
    if reward.pk is not None:
        raise ValueError("reward_create saves new rewards only")
    errors = reward_stock_rules(status=reward.status, qty=reward.qty, fulfilment=reward.fulfilment)
    if errors:
        raise ApplicationError(
            "The reward is invalid",
            type="validation_error",
            errors={k: [v] for k, v in errors.items()},
        )
    reward.save()
    stock_movement_initial(reward=reward, note=note, actor=actor)
    return reward


@transaction.atomic
def reward_update(*, reward: Reward, fields: Iterable[str]) -> Reward:
    """Save the catalog fields an editor changed. Stock is never written here (it moves only
    through reward_stock_* with a movement row), and only the changed columns are written, so
    an order taking stock meanwhile is not overwritten with a stale value."""
    update = set(fields) - {"id", "company", "qty", "created_at", "updated_at"}
    locked = rewards_lock(reward_ids=[reward.pk])[reward.pk]
    reward.qty = locked.qty
    if "status" in update and reward.qty == 0 and reward.status == Reward.Status.ACTIVE:
        # The stock ran out between the form's load and its save: it stays inactive.
        reward.status = Reward.Status.INACTIVE
    if "status" in update:
        reward.sold_out = False  # staff decided the status
        update.add("sold_out")
    if update:
        reward.save(update_fields=[*sorted(update), "updated_at"])
    return reward


@transaction.atomic
def reward_skus_save(
    *, reward: Reward, save: Iterable[Sku] = (), delete: Iterable[Sku] = ()
) -> None:
    """Save and delete a reward's SKUs. Each SKU belongs to the reward's company (the unique
    code per company is enforced on that column), so it is set here and never taken from input.
    Deletions go first, so a code can move from a deleted row to a new one in one save."""
    for sku in delete:
        if sku.pk is not None:
            sku.delete()
    for sku in save:
        sku.code = sku.code.strip()
        sku.reward = reward
        sku.company_id = reward.company_id
        sku.save()


def reward_status_set(*, reward: Reward, status: int) -> bool:
    """Activate or deactivate. A limited reward with no stock cannot be activated (restock it):
    the conditional UPDATE makes that true even if an order empties it at the same moment.
    Returns whether the status is now the one asked for."""
    rows = Reward.objects.filter(pk=reward.pk)
    if status == Reward.Status.ACTIVE:
        rows = rows.exclude(qty=0)
    changed = rows.update(status=status, sold_out=False, updated_at=timezone.now())
    reward.refresh_from_db(fields=["status", "qty", "updated_at"])
    return bool(changed) and reward.status == status


# --- Code pools -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolImportResult:
    added: int
    duplicates: int  # repeated within the file, or already loaded into any pool
    blank: int
    qty: int | None  # the reward's stock afterwards


def pool_codes_read_csv(*, text: str) -> list[str]:
    """Codes from a CSV: the first column of each row; an optional first row `code` is a
    header. Blank rows are kept as blanks so the import can count them."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    codes = [row[0] if row else "" for row in rows]
    if codes and codes[0].strip().lower() == "code":
        codes = codes[1:]
    return codes


@transaction.atomic
def pool_codes_import(
    *, reward: Reward, codes: Iterable[str], actor: Any = None
) -> PoolImportResult:
    """Add codes to a pool reward and raise its stock by the number added, with a movement, in
    one transaction. Codes are trimmed; blanks and duplicates (in the file or already loaded)
    are skipped and counted. A code that is too long refuses the whole file."""
    if reward.fulfilment != Reward.Fulfilment.POOL:
        raise ApplicationError(
            "Codes can be loaded only for a reward fulfilled from a code pool",
            type="not_a_pool_reward",
        )
    cleaned = [code.strip() for code in codes]
    too_long = [i for i, code in enumerate(cleaned, start=1) if len(code) > POOL_CODE_MAX_LENGTH]
    if too_long:
        shown = ", ".join(str(i) for i in too_long[:20])
        raise ApplicationError(
            f"Codes longer than {POOL_CODE_MAX_LENGTH} characters (code number {shown})",
            type="validation_error",
            errors={"codes": [f"code {i}: longer than {POOL_CODE_MAX_LENGTH}" for i in too_long]},
        )
    blank = sum(1 for code in cleaned if not code)
    unique = list(dict.fromkeys(code for code in cleaned if code))
    # The reward's row lock serialises imports into one pool, so "already loaded" cannot change
    # between the check below and the insert.
    locked = rewards_lock(reward_ids=[reward.pk])[reward.pk]
    if locked.qty is None:
        raise ApplicationError(
            "A pool reward cannot have unlimited stock; set its stock first",
            type="unlimited_stock",
        )
    existing: set[str] = set()
    for start in range(0, len(unique), 5000):
        chunk = unique[start : start + 5000]
        # Codes are unique across every pool (voucher codes are unique platform-wide).
        existing.update(PoolCode.objects.filter(code__in=chunk).values_list("code", flat=True))
    candidates = [code for code in unique if code not in existing]
    # An import into another pool may insert the same code meanwhile (it holds another reward's
    # lock): conflicts are skipped, and what this import really added is counted afterwards.
    PoolCode.objects.bulk_create(
        [PoolCode(reward=locked, code=code) for code in candidates], 1000, ignore_conflicts=True
    )
    new: list[str] = []
    for start in range(0, len(candidates), 5000):
        chunk = candidates[start : start + 5000]
        new.extend(
            PoolCode.objects.filter(reward=locked, code__in=chunk).values_list("code", flat=True)
        )
    qty = locked.qty
    if new:
        qty = reward_stock_adjust(
            reward=locked,
            delta=len(new),
            note=f"pool import: {len(new)} codes",
            actor=actor,
            reason=StockMovement.Reason.POOL_IMPORT,
        ).qty
    return PoolImportResult(
        added=len(new),
        duplicates=len(cleaned) - blank - len(new),
        blank=blank,
        qty=qty,
    )


def vendor_save(*, vendor: Vendor, api_key: str | None = None) -> Vendor:
    """Save a vendor; a new API key (when given) is stored encrypted, the old one kept otherwise."""
    if api_key is not None:
        vendor.api_key_encrypted = vendor_secrets.encrypt(api_key)
    vendor.full_clean(exclude=["api_key_encrypted"])
    vendor.save()
    return vendor
