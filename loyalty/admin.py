"""Back-office for the points engine: the ledger, read-only. Points move only through
loyalty.services (each change a ledger row in the same transaction as the balance)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from config.api.errors import ApplicationError
from customers.models import Customer

from .models import CustomerGroup, PointsLedgerEntry
from .services import customer_group_save, points_adjust

# Staff adjust points (a ledger row of kind `adjust`) with this permission.
ADJUST_PERMISSION = "loyalty.add_pointsledgerentry"


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

    change_list_template = "admin/loyalty/pointsledgerentry/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rows are written by loyalty.services only (see "Adjust points")

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.adjust_view)
        return [path("adjust/", view, name="loyalty_points_adjust"), *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "can_adjust": request.user.has_perm(ADJUST_PERMISSION),
        }
        return super().changelist_view(request, extra_context)

    def adjust_view(self, request: HttpRequest) -> HttpResponse:
        """Adjust a customer's points (or a group's pool) with a reason, through the same
        service every points change goes through; the ledger row records who."""
        if not request.user.has_perm(ADJUST_PERMISSION):
            raise PermissionDenied
        form = PointsAdjustForm(request.POST or None, admin_site=self.admin_site)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            group = data.get("group")
            customer = data.get("customer") or group.primary_customer
            try:
                entry = points_adjust(
                    customer=customer,
                    points=data["points"],
                    reason=data["reason"],
                    actor=request.user,
                    group=group,
                    reference="admin",
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                holder = group or customer
                self.message_user(
                    request,
                    f"{holder}: {entry.points:+d} points; balance now {entry.balance_after}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:loyalty_pointsledgerentry_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Adjust points",
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/loyalty/adjust_points.html", context)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PointsAdjustForm(forms.Form):
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.select_related("company"),
        required=False,
        help_text="Whose own points change. Leave empty to adjust a group's pool.",
    )
    group = forms.ModelChoiceField(
        queryset=CustomerGroup.objects.select_related("company", "primary_customer"),
        required=False,
        help_text="A group's pooled points (recorded against its primary member).",
    )
    # Bounded: a typo past the balance columns' bigint was a database error, a 500.
    points = forms.IntegerField(
        min_value=-(10**12),
        max_value=10**12,
        help_text="Positive to credit, negative to debit; never zero.",
    )
    reason = forms.CharField(max_length=200, help_text="Why: kept on the ledger row.")

    def __init__(self, *args: Any, admin_site: admin.AdminSite, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("customer", "group"):
            rel = PointsLedgerEntry._meta.get_field(name).remote_field
            self.fields[name].widget = ForeignKeyRawIdWidget(rel, admin_site)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if bool(data.get("customer")) == bool(data.get("group")):
            raise forms.ValidationError("Choose a customer or a group (one of them).")
        if data.get("points") == 0:
            self.add_error("points", "The adjustment must change the balance.")
        if not (data.get("reason") or "").strip():
            self.add_error("reason", "Say why.")
        return data


class CustomerGroupForm(forms.ModelForm):
    class Meta:
        model = CustomerGroup
        fields = ("company", "name", "external_id", "primary_customer", "members")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        company = data.get("company") or (self.instance.company if self.instance.pk else None)
        people = [data.get("primary_customer"), *(data.get("members") or [])]
        if company and any(c is not None and c.company_id != company.pk for c in people):
            raise forms.ValidationError(
                "The primary member and members must be customers of the group's company."
            )
        return data


@admin.register(CustomerGroup)
class CustomerGroupAdmin(admin.ModelAdmin):
    """Groups pooling points. The pool moves only through the ledger ("Adjust points" on the
    points ledger, or group redemptions): its counters are read-only here."""

    form = CustomerGroupForm
    list_display = (
        "name",
        "company",
        "external_id",
        "primary_customer",
        "points_balance",
        "points_held",
    )
    list_filter = ("company",)
    search_fields = ("name", "=external_id", "=primary_customer__mobile")
    list_select_related = ("company", "primary_customer")
    raw_id_fields = ("primary_customer", "members")
    readonly_fields = ("points_balance", "points_held", "created_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # A group's company is fixed once it has a pool and a ledger.
        return (*self.readonly_fields, "company") if obj is not None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: CustomerGroup, form: Any, change: bool) -> None:
        customer_group_save(group=obj, members=form.cleaned_data.get("members", []))

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # Members were saved by customer_group_save (not form.save_m2m).
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # its ledger rows keep it (PROTECT); a group is emptied, not deleted
