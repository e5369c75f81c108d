"""Back-office for the points engine: the ledger, read-only. Points move only through
loyalty.services (each change a ledger row in the same transaction as the balance)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import PointsLedgerEntry


@admin.register(PointsLedgerEntry)
class PointsLedgerEntryAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "customer",
        "company",
        "group",
        "kind",
        "points",
        "held",
        "balance_after",
        "held_after",
        "reason",
        "reference",
        "actor",
    )
    list_filter = ("kind", "company")
    search_fields = ("=customer__mobile", "=reference")
    list_select_related = ("customer", "company", "group", "actor")
    date_hierarchy = "created_at"
    show_full_result_count = False  # no second COUNT(*) over a large ledger

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
