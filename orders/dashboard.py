"""The back-office dashboard: orders and vouchers per day (last 30 days), top rewards, rewards at
or under their alert threshold, failed fulfilments.

Every number is aggregated in the database (TruncDate + COUNT, GROUP BY), over ranges the
indexes cover: orders on `created_at`, vouchers on (`created_at`, `reward`) (an index-only scan
for both the per-day counts and the top rewards), failed vouchers on (`status`, `created_at`).
bench/export_bench.py times each query on a million vouchers.

Selectors first (reads, no request), then the admin view that renders them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from rewards.models import Reward
from rewards.selectors import reward_low_stock_q

from .models import Order, Voucher
from .selectors import day_start

DASHBOARD_PERMISSION = "orders.view_dashboard"
DAYS = 30


@dataclass(frozen=True)
class DayCount:
    day: dt.date
    orders: int
    vouchers: int


@dataclass(frozen=True)
class TopReward:
    reward: Reward
    vouchers: int
    value: Decimal


def dashboard_since(*, days: int = DAYS, today: dt.date | None = None) -> dt.datetime:
    """The start of the window: midnight (TIME_ZONE) `days - 1` days before today."""
    today = today or timezone.localdate()
    return day_start(today - dt.timedelta(days=days - 1))


def per_day_queryset(model: Any, *, since: dt.datetime) -> QuerySet[Any]:
    """(day, rows created that day) since `since`: one GROUP BY over an index range."""
    return (
        model.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("*"))
        .order_by()
        .values_list("day", "n")
    )


def top_rewards_queryset(*, since: dt.datetime, limit: int) -> QuerySet[Any]:
    return (
        Voucher.objects.filter(created_at__gte=since)
        .values("reward_id")
        .annotate(n=Count("*"), value=Sum("denomination_value"))
        .order_by("-n", "reward_id")[:limit]
    )


def dashboard_daily_counts(*, days: int = DAYS, today: dt.date | None = None) -> list[DayCount]:
    """Orders and vouchers created per day, oldest first, every day present (0 when none).
    Two GROUP BY queries, one row per day each."""
    today = today or timezone.localdate()
    since = dashboard_since(days=days, today=today)

    orders = dict(per_day_queryset(Order, since=since))
    vouchers = dict(per_day_queryset(Voucher, since=since))
    first = today - dt.timedelta(days=days - 1)
    return [
        DayCount(day=d, orders=orders.get(d, 0), vouchers=vouchers.get(d, 0))
        for d in (first + dt.timedelta(days=i) for i in range(days))
    ]


def dashboard_top_rewards(*, since: dt.datetime, limit: int = 10) -> list[TopReward]:
    """The rewards with the most vouchers since `since`: one GROUP BY over the vouchers, then
    the few winning rewards with their brand."""
    top = list(top_rewards_queryset(since=since, limit=limit))
    rewards = Reward.objects.select_related("brand", "company").in_bulk(
        [row["reward_id"] for row in top]
    )
    return [
        TopReward(reward=rewards[row["reward_id"]], vouchers=row["n"], value=row["value"])
        for row in top
        if row["reward_id"] in rewards
    ]


def dashboard_low_stock(*, limit: int = 50) -> list[Reward]:
    """Limited rewards at or under their alert threshold, emptiest first."""
    return list(
        Reward.objects.filter(reward_low_stock_q())
        .select_related("brand", "company")
        .order_by("qty", "id")[:limit]
    )


def dashboard_failed_fulfilments(
    *, since: dt.datetime, limit: int = 20
) -> tuple[int, list[Voucher]]:
    """How many vouchers failed since `since`, and the latest `limit` of them."""
    failed = Voucher.objects.filter(status=Voucher.Status.FAILED, created_at__gte=since)
    latest = list(
        failed.select_related("reward__brand", "company", "order").order_by("-created_at", "-id")[
            :limit
        ]
    )
    return failed.count(), latest


def bar_chart(days: list[DayCount], *, width: int = 900, height: int = 220) -> dict[str, Any]:
    """Geometry of a grouped bar chart (orders and vouchers per day) for an inline SVG: the
    template only places what this computes. Nothing is fetched from anywhere."""
    left, bottom, top = 44, 28, 10
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max([1, *(max(d.orders, d.vouchers) for d in days)])
    # A round top for the scale: 1, 2 or 5 times a power of ten.
    scale = 1
    while scale * 10 < peak:
        scale *= 10
    top_value = next(scale * m for m in (1, 2, 5, 10) if scale * m >= peak)
    slot = plot_w / max(len(days), 1)
    bar_w = max(slot * 0.38, 1)
    bars, labels = [], []
    for i, d in enumerate(days):
        x = left + i * slot + slot * 0.1
        for j, (series, value) in enumerate((("orders", d.orders), ("vouchers", d.vouchers))):
            h = plot_h * value / top_value
            bars.append(
                {
                    "series": series,
                    "x": round(x + j * bar_w, 1),
                    "y": round(top + plot_h - h, 1),
                    "w": round(bar_w, 1),
                    "h": round(h, 1),
                    "title": f"{d.day:%a %d %b}: {value:,} {series}",
                }
            )
        if i % 5 == 0 or i == len(days) - 1:
            labels.append({"x": round(x + bar_w, 1), "text": f"{d.day:%d %b}"})
    grid = [
        {"y": round(top + plot_h - plot_h * f, 1), "value": f"{int(top_value * f):,}"}
        for f in (0, 0.25, 0.5, 0.75, 1)
    ]
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": width - 10,
        "axis_y": top + plot_h,
        "label_y": top + plot_h + 18,
        "bars": bars,
        "labels": labels,
        "grid": grid,
    }


def dashboard_view(request: HttpRequest) -> HttpResponse:
    """/admin/dashboard/ (wrapped in admin_site.admin_view by config/urls.py: staff only)."""
    if not request.user.has_perm(DASHBOARD_PERMISSION):
        raise PermissionDenied
    today = timezone.localdate()
    since = dashboard_since(today=today)
    days = dashboard_daily_counts(today=today)
    failed_count, failed = dashboard_failed_fulfilments(since=since)
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "since": since,
        "days": days,
        "total_orders": sum(d.orders for d in days),
        "total_vouchers": sum(d.vouchers for d in days),
        "chart": bar_chart(days),
        "top_rewards": dashboard_top_rewards(since=since),
        "low_stock": dashboard_low_stock(),
        "failed_count": failed_count,
        "failed": failed,
    }
    return TemplateResponse(request, "admin/dashboard.html", context)
