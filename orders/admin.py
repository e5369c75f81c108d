"""Back-office for orders: read-only. Orders, their lines and vouchers are written only by the
redemption service; staff look, they do not edit. Voucher codes are bearer value: only users
with `orders.view_voucher_codes` (superusers have every permission) see them whole and may search
by them. Finance exports live in admin_exports.py (mixed into OrderAdmin)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from .admin_exports import CODES_PERMISSION, DateRangeListFilter, OrderExportAdminMixin
from .exports import mask_code
from .models import FulfilmentStatus, LineItem, Order, RewardIssue, Voucher


class ReadOnlyAdminMixin:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class VoucherCodeMixin:
    """Users with `orders.view_voucher_codes` see `code` and `pin` whole; everyone else sees
    them masked. Decided per request in get_fields / get_list_display (admin instances are
    shared between threads, so the request is never stored on them)."""

    @admin.display(description="code")
    def masked_code(self, obj: Voucher) -> str:
        return mask_code(obj.code)

    @admin.display(description="PIN")
    def masked_pin(self, obj: Voucher) -> str:
        return "•••" if obj.pin else "—"

    @staticmethod
    def _unmask(request: HttpRequest, names: Any) -> tuple[str, ...]:
        if not request.user.has_perm(CODES_PERMISSION):
            return tuple(names)
        return tuple({"masked_code": "code", "masked_pin": "pin"}.get(n, n) for n in names)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self._unmask(request, self.fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self._unmask(request, self.fields)


class LineItemInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = LineItem
    extra = 0
    fields = ("sku", "quantity", "price", "reward")
    readonly_fields = fields


class VoucherInline(ReadOnlyAdminMixin, VoucherCodeMixin, admin.TabularInline):
    model = Voucher
    extra = 0
    fields = ("masked_code", "reward", "status", "denomination_value", "valid_till", "issued_at")
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("reward__brand")


@admin.register(Order)
class OrderAdmin(OrderExportAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "public_id",
        "company",
        "customer",
        "status",
        "order_total",
        "points_earned",
        "created_at",
    )
    list_filter = ("status", "company", ("created_at", DateRangeListFilter))
    search_fields = ("=public_id", "=order_reference", "=customer__mobile")
    actions = ["export_selected_csv"]
    list_select_related = ("company", "customer")
    date_hierarchy = "created_at"
    show_full_result_count = False  # no second COUNT(*) over millions of orders
    inlines = [LineItemInline, VoucherInline]
    fields = (
        "public_id",
        "company",
        "customer",
        "order_reference",
        "order_timestamp",
        "order_total",
        "order_items",
        "status",
        "points_earned",
        "created_at",
    )
    readonly_fields = fields


class PendingTooLongFilter(admin.SimpleListFilter):
    """Vendor vouchers still pending after the sweep's threshold: the ones to look at."""

    title = "fulfilment"
    parameter_name = "stuck"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Pending too long")]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value() != "yes":
            return queryset
        cutoff = timezone.now() - timedelta(seconds=settings.VOUCHER_PENDING_SWEEP_AFTER)
        return queryset.filter(status=Voucher.Status.PENDING, created_at__lt=cutoff)


@admin.register(Voucher)
class VoucherAdmin(ReadOnlyAdminMixin, VoucherCodeMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "masked_code",
        "status",
        "reward",
        "denomination_value",
        "customer",
        "company",
        "order",
        "valid_till",
        "issued_at",
    )
    list_filter = ("status", PendingTooLongFilter, "company", "created_at")
    list_select_related = ("reward__brand", "customer", "company", "order")
    show_full_result_count = False
    fields = (
        "masked_code",
        "masked_pin",
        "status",
        "reward",
        "denomination_value",
        "valid_till",
        "company",
        "customer",
        "order",
        "line_item",
        "points_spent",
        "failure_reason",
        "fulfilment_attempts",
        "last_attempt_at",
        "enqueued_at",
        "issued_at",
        "created_at",
        "updated_at",
    )

    def get_list_display(self, request: HttpRequest) -> tuple[str, ...]:
        return self._unmask(request, self.list_display)

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        fields = ("=order__public_id", "=customer__mobile")
        # Searching by code would let anyone confirm a guessed code exists: only those who may
        # see codes anyway.
        return (*fields, "=code") if request.user.has_perm(CODES_PERMISSION) else fields


# --- Loyalty issue call: fulfilment statuses and issued rewards --------------------------------


@admin.register(FulfilmentStatus)
class FulfilmentStatusAdmin(admin.ModelAdmin):
    """A company's own fulfilment stages (BOOKED, SHIPPED, DELIVERED, ...)."""

    list_display = ("name", "company", "position")
    list_filter = ("company",)
    search_fields = ("name",)
    list_select_related = ("company",)
    ordering = ("company", "position", "name")


class RewardIssueForm(forms.ModelForm):
    class Meta:
        model = RewardIssue
        fields = ("fulfilment_status",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the issuing company's own statuses.
        field = self.fields["fulfilment_status"]
        field.queryset = FulfilmentStatus.objects.filter(company_id=self.instance.company_id)

    def clean_fulfilment_status(self) -> Any:
        status = self.cleaned_data.get("fulfilment_status")
        if status is None and self.instance.fulfilment_status_id is not None:
            raise forms.ValidationError("A fulfilment status cannot be cleared.")
        if status is not None and self.instance.status == RewardIssue.Status.FAILED:
            raise forms.ValidationError("A reward that was not issued has no fulfilment.")
        return status


@admin.register(RewardIssue)
class RewardIssueAdmin(admin.ModelAdmin):
    """Rewards issued with points through the Loyalty API. Read-only but for the fulfilment
    status, which is set through the same service as the API's fulfillment call."""

    form = RewardIssueForm
    list_display = (
        "id",
        "company",
        "org",
        "customer",
        "reward",
        "status",
        "result_code",
        "quantity",
        "points",
        "group",
        "fulfilment_status",
        "created_at",
    )
    list_filter = ("status", "company", "fulfilment_status", "created_at")
    search_fields = ("=request_id", "=transaction_number", "=customer__mobile")
    list_select_related = (
        "company",
        "org",
        "customer",
        "reward__brand",
        "group",
        "fulfilment_status",
    )
    show_full_result_count = False
    readonly_fields = (
        "company",
        "org",
        "customer",
        "reward",
        "store_code",
        "request_id",
        "requested_quantity",
        "quantity",
        "points",
        "status",
        "result_code",
        "message",
        "transaction_number",
        "notes",
        "event_log_id",
        "custom_fields",
        "group",
        "fulfilment_updated_at",
        "response",
        "created_at",
    )
    fields = ("fulfilment_status", *readonly_fields)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: RewardIssue, form: Any, change: bool) -> None:
        from .loyalty_services import reward_issue_fulfilment_set

        if "fulfilment_status" in form.changed_data and obj.fulfilment_status is not None:
            reward_issue_fulfilment_set(
                company=obj.company, issue_id=obj.pk, status=obj.fulfilment_status.name
            )
