"""Reads for the catalog: scoped to one company, with related rows loaded up front, so a list
costs a fixed number of queries however large the catalog grows."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, F, Q

from companies.models import Company

from .models import PoolCode, Reward, Sku, StockMovement


def reward_list_for_company(*, company: Company) -> list[Reward]:
    """Every reward of the company, active or not, by id, with its brand; each carries its SKUs
    (by id, so the wire's SKU string is stable) as `reward.sku_rows`.

    Two queries whatever the size: the rewards joined to their brand, and all their SKUs in one
    query scoped by company. (prefetch_related would send every reward id in an `IN` list and
    build a queryset per reward, which costs more than the rows themselves at 10,000 rewards.)"""
    rewards = list(Reward.objects.filter(company=company).select_related("brand").order_by("id"))
    skus: dict[int, list[Sku]] = {reward.pk: [] for reward in rewards}
    for sku in Sku.objects.filter(reward__company=company).order_by("id"):
        # A reward created between the two queries is not in this list; skip its SKUs.
        if sku.reward_id in skus:
            skus[sku.reward_id].append(sku)
    for reward in rewards:
        reward.sku_rows = skus[reward.pk]  # type: ignore[attr-defined]
    return rewards


def sku_codes_taken(
    *,
    company: Company | int,
    codes: Iterable[str],
    exclude_reward_keys: Iterable[str] = (),
    exclude_reward_id: int | None = None,
) -> dict[str, str]:
    """Which of `codes` (already normalized: trimmed, lower-cased) are SKUs of the company's
    rewards, other than the excluded ones. Returns normalized code → the owning reward's key."""
    wanted = set(codes)
    if not wanted:
        return {}
    company_id = company.pk if isinstance(company, Company) else company
    rows = Sku.objects.filter(company_id=company_id, code_normalized__in=wanted)
    excluded_keys = list(exclude_reward_keys)
    if excluded_keys:
        rows = rows.exclude(reward__key__in=excluded_keys)
    if exclude_reward_id is not None:
        rows = rows.exclude(reward_id=exclude_reward_id)
    return dict(rows.values_list("code_normalized", "reward__key"))


def pool_codes_free_count(*, reward_ids: Iterable[int]) -> dict[int, int]:
    """Unassigned pool codes per reward (rewards without any are absent)."""
    ids = list(reward_ids)
    if not ids:
        return {}
    rows = (
        PoolCode.objects.filter(reward_id__in=ids, assigned_at__isnull=True)
        .values("reward_id")
        .annotate(n=Count("id"))
        .values_list("reward_id", "n")
    )
    return dict(rows)


def stock_movements_recent(*, reward: Reward, limit: int = 10) -> list[StockMovement]:
    return list(
        StockMovement.objects.filter(reward=reward)
        .select_related("actor")
        .order_by("-created_at", "-id")[:limit]
    )


def reward_low_stock_q() -> Q:
    """Limited rewards at or below their alert threshold."""
    return Q(qty__isnull=False, qty__lte=F("qty_trigger_limit"))
