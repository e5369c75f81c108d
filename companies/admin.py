from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import Company, CompanySecret, Store
from .services import company_secret_issue, company_secret_revoke


class StoreInline(admin.TabularInline):
    model = Store
    extra = 0


class CompanySecretInline(admin.TabularInline):
    model = CompanySecret
    extra = 0
    fields = ("prefix", "label", "created_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "revoked_at")
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # secrets are minted by the "Issue a new secret" action, never typed in


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ("name", "client_id", "status", "parent", "points_earn_rate", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "client_id")
    autocomplete_fields = ("parent",)
    inlines = [StoreInline, CompanySecretInline]
    actions = ["issue_secret"]

    def save_model(self, request: HttpRequest, obj: Company, form: object, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            _, plain = company_secret_issue(company=obj, label="initial")
            self._show_secret(request, obj, plain)

    @admin.action(description="Issue a new secret (shown once)")
    def issue_secret(self, request: HttpRequest, queryset: QuerySet[Company]) -> None:
        for company in queryset:
            _, plain = company_secret_issue(company=company, label=f"admin:{request.user}")
            self._show_secret(request, company, plain)

    def _show_secret(self, request: HttpRequest, company: Company, plain: str) -> None:
        self.message_user(
            request,
            f"New secret for {company.client_id}: {plain} (copy it now; it is not stored).",
            messages.WARNING,
        )


@admin.register(CompanySecret)
class CompanySecretAdmin(admin.ModelAdmin):
    list_display = ("prefix", "company", "label", "created_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "company__name", "company__client_id")
    readonly_fields = ("company", "prefix", "created_at", "revoked_at")
    fields = ("company", "prefix", "label", "created_at", "revoked_at")
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke the selected secrets")
    def revoke(self, request: HttpRequest, queryset: QuerySet[CompanySecret]) -> None:
        for secret in queryset.filter(revoked_at__isnull=True):
            company_secret_revoke(secret=secret)
        self.message_user(request, "Revoked. Tokens minted with them stop working at once.")


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "company")
    search_fields = ("code", "name", "company__client_id")
    list_filter = ("company",)
