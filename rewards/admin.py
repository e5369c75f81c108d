"""Back-office for the catalog. Every write goes through rewards.services, as the API's do:
stock never changes here without a movement row that says who and why."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from config.api.errors import ApplicationError

from .admin_catalog import CatalogImportExportAdminMixin
from .catalog_import import validate_sku_text
from .models import Brand, LowStockAlert, Reward, Sku, StockMovement, Vendor
from .selectors import (
    pool_codes_free_count,
    reward_low_stock_q,
    sku_codes_taken,
    stock_movements_recent,
)
from .services import (
    MAX_STOCK,
    pool_codes_import,
    pool_codes_read_csv,
    reward_create,
    reward_skus_save,
    reward_status_set,
    reward_stock_adjust,
    reward_stock_rules,
    reward_update,
    vendor_save,
)

POOL_UPLOAD_MAX_BYTES = 20 * 1024 * 1024


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ("name", "company")
    list_filter = ("company",)
    search_fields = ("name", "company__client_id", "company__name")
    list_select_related = ("company",)


class SkuFormSet(BaseInlineFormSet):
    """A SKU code is unique per company (case and spaces ignored): say so on the form rather
    than fail on the database constraint. No SKU field may hold a tab, a line break or another
    control character: the rewards API joins them with tabs and newlines (validate_sku_text)."""

    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        for name in ("code", "product_name", "variant", "pack_size"):
            if name in form.fields:
                form.fields[name].validators.append(validate_sku_text)

    def clean(self) -> None:
        super().clean()
        seen: dict[str, forms.Form] = {}
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or not data.get("code"):
                continue
            normalized = Sku.normalize(data["code"])
            if normalized in seen:
                form.add_error("code", "This code is already a SKU of this reward")
            seen[normalized] = form
        if not seen or self.instance.company_id is None:
            return
        taken = sku_codes_taken(
            company=self.instance.company_id, codes=seen, exclude_reward_id=self.instance.pk
        )
        for normalized, owner_key in taken.items():
            seen[normalized].add_error("code", f"This code is already a SKU of {owner_key!r}")


class SkuInline(admin.TabularInline):
    model = Sku
    formset = SkuFormSet
    fields = ("code", "product_name", "variant", "pack_size")
    extra = 1


LOYALTY_FIELDS = (
    "payment_mode",
    "conversion_ratio",
    "segments",
    "tier",
    "label",
    "priority",
    "group",
    "group_name",
    "group_rank",
    "reward_rank",
    "program_id",
    "categories",
    "custom_fields",
    "image_id",
    "image_url",
    "thumbnail_id",
    "thumbnail_url",
    "terms_id",
    "terms_url",
)


class RewardAdminForm(forms.ModelForm):
    class Meta:
        model = Reward
        fields = (
            "company",
            "brand",
            "key",
            "name",
            "description",
            "denomination_value",
            "status",
            "qty",
            "qty_trigger_limit",
            "points_cost",
            "validity_days",
            "valid_until",
            "starts_at",
            "ends_at",
            "fulfilment",
            "vendor",
            "vendor_product_code",
            *LOYALTY_FIELDS,
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Loyalty fields are optional extras of the catalog: blank means "the default".
        for name in ("payment_mode", "priority"):
            if name in self.fields:
                self.fields[name].required = False

    def clean_payment_mode(self) -> str:
        return self.cleaned_data.get("payment_mode") or Reward.PaymentMode.POINTS

    def clean_priority(self) -> int:
        return self.cleaned_data.get("priority") or 0

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        reward = self.instance
        company = data.get("company") if "company" in self.fields else reward.company
        brand = data.get("brand")
        if company is not None and brand is not None and brand.company_id != company.pk:
            self.add_error("brand", "This brand belongs to another company")
        vendor = data.get("vendor")
        if (
            company is not None
            and vendor is not None
            and vendor.company_id not in (None, company.pk)
        ):
            self.add_error("vendor", "This vendor belongs to another company")

        status = data.get("status", reward.status)
        fulfilment = data.get("fulfilment", reward.fulfilment)
        if "qty" in self.fields:  # creation: the editor sets the opening stock
            qty, free = data.get("qty"), 0
        else:  # change: stock moves only through "Adjust stock"; read the live value
            qty = Reward.objects.values_list("qty", flat=True).get(pk=reward.pk)
            free = pool_codes_free_count(reward_ids=[reward.pk]).get(reward.pk, 0)
        if status is None or fulfilment is None:
            return data
        for name, message in reward_stock_rules(
            status=status, qty=qty, fulfilment=fulfilment, free_pool_codes=free
        ).items():
            if name == "status" and "qty" not in self.fields:
                message = "This reward is out of stock: adjust its stock before activating it"
            field = name if name in self.fields else "fulfilment"
            if field in self.errors:
                continue
            self.add_error(field, message)
        return data


class StockFilter(admin.SimpleListFilter):
    title = "stock"
    parameter_name = "stock"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("unlimited", "Unlimited"),
            ("low", "At or below its alert threshold"),
            ("out", "Out of stock"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Reward]) -> QuerySet[Reward]:
        if self.value() == "unlimited":
            return queryset.filter(qty__isnull=True)
        if self.value() == "low":
            return queryset.filter(reward_low_stock_q())
        if self.value() == "out":
            return queryset.filter(qty=0)
        return queryset


class StockAdjustForm(forms.Form):
    delta = forms.IntegerField(
        min_value=-MAX_STOCK,
        max_value=MAX_STOCK,
        help_text="Units to add (positive) or remove (negative).",
    )
    reason = forms.ChoiceField(
        choices=[
            (StockMovement.Reason.RESTOCK, StockMovement.Reason.RESTOCK.label),
            (StockMovement.Reason.ADJUSTMENT, StockMovement.Reason.ADJUSTMENT.label),
        ],
        initial=StockMovement.Reason.RESTOCK,
    )
    note = forms.CharField(max_length=500, help_text="Why the stock changes (kept on the record).")

    def clean_delta(self) -> int:
        delta = self.cleaned_data["delta"]
        if delta == 0:
            raise forms.ValidationError("The adjustment must change the stock")
        return delta


class PoolCodesUploadForm(forms.Form):
    file = forms.FileField(
        help_text="CSV, one code per row in the first column; an optional header row 'code'."
    )

    def clean_file(self) -> str:
        upload = self.cleaned_data["file"]
        if upload.size > POOL_UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                f"The file is over {POOL_UPLOAD_MAX_BYTES // (1024 * 1024)} MB; "
                "use the import_pool_codes command"
            )
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError("The file is not UTF-8 text") from exc


@admin.register(Reward)
class RewardAdmin(CatalogImportExportAdminMixin, admin.ModelAdmin):
    form = RewardAdminForm
    list_display = (
        "name",
        "key",
        "company",
        "brand",
        "denomination_value",
        "stock",
        "low_stock",
        "qty_trigger_limit",
        "status",
        "fulfilment",
    )
    list_filter = (
        "status",
        "fulfilment",
        StockFilter,
        ("brand", admin.RelatedOnlyFieldListFilter),
        "company",
    )
    search_fields = ("name", "key", "brand__name", "skus__code")
    list_select_related = ("brand", "company")
    autocomplete_fields = ("brand",)
    inlines = [SkuInline]
    actions = ["activate", "deactivate", "adjust_stock", "export_catalog"]
    fieldsets = (
        (None, {"fields": ("company", "brand", "key", "name", "description")}),
        (
            "Value and stock",
            {
                "fields": (
                    "denomination_value",
                    "status",
                    "qty",
                    "qty_trigger_limit",
                    "points_cost",
                )
            },
        ),
        ("Validity", {"fields": ("validity_days", "valid_until", "starts_at", "ends_at")}),
        ("Fulfilment", {"fields": ("fulfilment", "vendor", "vendor_product_code")}),
        ("Loyalty catalog", {"classes": ("collapse",), "fields": LOYALTY_FIELDS}),
    )
    change_fieldsets_extra = (
        ("Stock record", {"fields": ("pool_codes_left", "recent_movements")}),
    )

    # --- form -------------------------------------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: Reward | None = None) -> Any:
        if obj is None:
            return self.fieldsets
        return self.fieldsets + self.change_fieldsets_extra

    def get_readonly_fields(self, request: HttpRequest, obj: Reward | None = None) -> Any:
        if obj is None:
            return ()
        # Stock changes through "Adjust stock" (a movement row with who and why), never by
        # typing a new number; a reward never moves to another company with its SKUs.
        return ("company", "qty", "pool_codes_left", "recent_movements")

    def save_model(self, request: HttpRequest, obj: Reward, form: Any, change: bool) -> None:
        if change:
            reward_update(reward=obj, fields=form.changed_data)
        else:
            reward_create(
                reward=obj, actor=request.user, note=f"admin: opening stock ({request.user})"
            )

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not Sku:
            super().save_formset(request, form, formset, change)
            return
        instances = formset.save(commit=False)
        reward_skus_save(reward=form.instance, save=instances, delete=formset.deleted_objects)
        formset.save_m2m()

    # --- columns ----------------------------------------------------------------------------

    @admin.display(description="stock", ordering="qty")
    def stock(self, obj: Reward) -> str:
        return "unlimited" if obj.qty is None else str(obj.qty)

    @admin.display(description="low stock")
    def low_stock(self, obj: Reward) -> str:
        """A marker for limited rewards at or below their alert threshold (reward_low_stock_q)."""
        if obj.qty is None or obj.qty > obj.qty_trigger_limit:
            return ""
        label = "out of stock" if obj.qty == 0 else "low"
        return format_html(
            '<span class="low-stock" style="color: #ba2121; font-weight: bold" title="{}">'
            "&#9660; {}</span>",
            f"{obj.qty} left, alert at {obj.qty_trigger_limit}",
            label,
        )

    @admin.display(description="unassigned pool codes")
    def pool_codes_left(self, obj: Reward) -> str:
        if obj.fulfilment != Reward.Fulfilment.POOL:
            return "-"
        return str(pool_codes_free_count(reward_ids=[obj.pk]).get(obj.pk, 0))

    @admin.display(description="recent stock movements")
    def recent_movements(self, obj: Reward) -> str:
        movements = stock_movements_recent(reward=obj)
        link = format_html(
            '<a href="{}?reward__id__exact={}">All movements</a>',
            reverse("admin:rewards_stockmovement_changelist"),
            obj.pk,
        )
        if not movements:
            return format_html("None yet. {}", link)
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    m.created_at.strftime("%Y-%m-%d %H:%M"),
                    f"{m.delta:+d}",  # format_html escapes to str first: format here
                    m.qty_after,
                    m.get_reason_display(),
                    m.note or m.reference,
                    m.actor or "",
                )
                for m in movements
            ),
        )
        return format_html(
            "<table><tr><th>when</th><th>change</th><th>after</th><th>why</th><th>note</th>"
            "<th>who</th></tr>{}</table>{}",
            rows,
            link,
        )

    # --- actions ----------------------------------------------------------------------------

    @admin.action(description="Activate the selected rewards")
    def activate(self, request: HttpRequest, queryset: QuerySet[Reward]) -> None:
        done = skipped = 0
        for reward in queryset:
            if reward_status_set(reward=reward, status=Reward.Status.ACTIVE):
                done += 1
            else:
                skipped += 1
        self.message_user(request, f"{done} activated.")
        if skipped:
            self.message_user(
                request, f"{skipped} out of stock, left inactive: restock first.", messages.WARNING
            )

    @admin.action(description="Deactivate the selected rewards")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Reward]) -> None:
        for reward in queryset:
            reward_status_set(reward=reward, status=Reward.Status.INACTIVE)
        self.message_user(request, f"{queryset.count()} deactivated.")

    def has_adjust_stock_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A stock change is a movement row: adding one is what the permission grants.
        return self.has_change_permission(request, obj) and request.user.has_perm(
            "rewards.add_stockmovement"
        )

    def has_pool_upload_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_change_permission(request, obj) and request.user.has_perm(
            "rewards.add_poolcode"
        )

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        context["can_adjust_stock"] = self.has_adjust_stock_permission(request)
        context["can_upload_pool_codes"] = self.has_pool_upload_permission(request)
        return super().render_change_form(request, context, *args, **kwargs)

    @admin.action(description="Adjust stock (one reward)…", permissions=["adjust_stock"])
    def adjust_stock(self, request: HttpRequest, queryset: QuerySet[Reward]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one reward to adjust.", messages.WARNING)
            return None
        return HttpResponseRedirect(self._url("adjust_stock", queryset.get()))

    # --- extra views ------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/adjust-stock/",
                view(self.adjust_stock_view),
                name="rewards_reward_adjust_stock",
            ),
            path(
                "<path:object_id>/pool-codes/",
                view(self.pool_codes_view),
                name="rewards_reward_pool_codes",
            ),
            *super().get_urls(),
        ]

    def _url(self, name: str, reward: Reward) -> str:
        return reverse(f"admin:rewards_reward_{name}", args=[quote(reward.pk)])

    def _reward_for_change(self, request: HttpRequest, object_id: str) -> Reward | None:
        reward = self.get_object(request, unquote(object_id))
        if reward is not None and not self.has_change_permission(request, reward):
            raise PermissionDenied
        return reward

    def _render(
        self, request: HttpRequest, reward: Reward, template: str, title: str, form: forms.Form
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": reward,
            "title": title,
            "form": form,
            "movements": stock_movements_recent(reward=reward),
            "change_url": reverse("admin:rewards_reward_change", args=[quote(reward.pk)]),
        }
        return TemplateResponse(request, f"admin/rewards/reward/{template}", context)

    def adjust_stock_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not self.has_adjust_stock_permission(request):
            raise PermissionDenied
        reward = self._reward_for_change(request, object_id)
        if reward is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        form = StockAdjustForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                reward = reward_stock_adjust(
                    reward=reward,
                    delta=form.cleaned_data["delta"],
                    note=form.cleaned_data["note"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, f"Stock of {reward} is now {reward.qty}.")
                return HttpResponseRedirect(
                    reverse("admin:rewards_reward_change", args=[quote(reward.pk)])
                )
        return self._render(request, reward, "adjust_stock.html", f"Adjust stock: {reward}", form)

    def pool_codes_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not self.has_pool_upload_permission(request):
            raise PermissionDenied
        reward = self._reward_for_change(request, object_id)
        if reward is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        form = PoolCodesUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                result = pool_codes_import(
                    reward=reward,
                    codes=pool_codes_read_csv(text=form.cleaned_data["file"]),
                    actor=request.user,
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request,
                    f"{result.added} codes added, {result.duplicates} duplicates and "
                    f"{result.blank} blank rows skipped; stock is now {result.qty}.",
                )
                return HttpResponseRedirect(
                    reverse("admin:rewards_reward_change", args=[quote(reward.pk)])
                )
        return self._render(
            request, reward, "pool_codes.html", f"Upload pool codes: {reward}", form
        )


@admin.register(StockMovement)
class StockMovementAdmin(admin.ModelAdmin):
    """The stock ledger: read-only. Movements are written by the services, never by hand."""

    list_display = (
        "created_at",
        "reward",
        "delta",
        "qty_after",
        "reason",
        "reference",
        "note",
        "actor",
    )
    list_filter = ("reason", "reward__company")
    search_fields = ("reward__key", "reward__name", "reference", "note")
    list_select_related = ("reward__brand", "actor")
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class VendorAdminForm(forms.ModelForm):
    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only: stored encrypted, never shown. Leave empty to keep the current key.",
    )

    class Meta:
        model = Vendor
        fields = (
            "name",
            "company",
            "base_url",
            "api_key",
            "timeout_seconds",
            "max_retries",
            "backoff_base_seconds",
            "backoff_max_seconds",
            "is_active",
        )


@admin.register(Vendor)
class VendorAdmin(admin.ModelAdmin):
    form = VendorAdminForm
    list_display = (
        "name",
        "base_url",
        "company",
        "timeout_seconds",
        "max_retries",
        "is_active",
        "has_key",
    )
    list_filter = ("is_active",)
    search_fields = ("name", "base_url")

    @admin.display(boolean=True, description="API key set")
    def has_key(self, obj: Vendor) -> bool:
        return bool(obj.api_key_encrypted)

    def save_model(self, request: HttpRequest, obj: Vendor, form: Any, change: bool) -> None:
        vendor_save(vendor=obj, api_key=form.cleaned_data.get("api_key") or None)


@admin.register(LowStockAlert)
class LowStockAlertAdmin(admin.ModelAdmin):
    """Low-stock alerts as they were raised (and resolved by a restock): read-only, written by
    the stock services and the alerting task."""

    list_display = (
        "raised_at",
        "reward",
        "company",
        "qty_at_alert",
        "threshold",
        "state",
        "emailed_at",
        "resolved_at",
        "stock_now",
    )
    list_filter = ("state", "company")
    search_fields = ("reward__name", "reward__key")
    list_select_related = ("reward__brand", "company")
    date_hierarchy = "raised_at"

    @admin.display(description="stock now", ordering="reward__qty")
    def stock_now(self, obj: LowStockAlert) -> str:
        return "unlimited" if obj.reward.qty is None else str(obj.reward.qty)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
