"""Catalog import and export in the back-office, in the `import_catalog` JSON format.

Import goes through the same service as the command (rewards.catalog_import): the whole file is
checked first and a bad file changes nothing; the page lists every wrong row. Export writes what
the rewards list shows (its filters and search), for one company, with django-import-export
(rewards.catalog_export). Mixed into RewardAdmin by rewards/admin.py.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from companies.models import Company

from .catalog_export import catalog_export_json
from .catalog_import import CatalogImportError, catalog_import
from .models import Reward

CATALOG_UPLOAD_MAX_BYTES = 20 * 1024 * 1024


class CatalogImportForm(forms.Form):
    company = forms.ModelChoiceField(queryset=Company.objects.order_by("name"))
    file = forms.FileField(
        help_text="The import_catalog format: a JSON array of reward objects (docs/catalog.md)."
    )
    dry_run = forms.BooleanField(
        required=False, label="Check only", help_text="Validate the file and report; write nothing."
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > CATALOG_UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                f"The file is over {CATALOG_UPLOAD_MAX_BYTES // (1024 * 1024)} MB; "
                "use the import_catalog command"
            )
        try:
            return json.loads(upload.read().decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise forms.ValidationError("The file is not UTF-8 text") from exc
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"The file is not valid JSON: {exc}") from exc


class CatalogImportExportAdminMixin:
    """ "Import catalog" and "Export catalog" buttons on the rewards list, and an action that
    exports the selected rewards. Import needs add and change permission on rewards; export,
    view permission."""

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view  # type: ignore[attr-defined]
        return [
            path("import-catalog/", view(self.import_catalog_view), name="rewards_reward_import"),
            path("export-catalog/", view(self.export_catalog_view), name="rewards_reward_export"),
            *super().get_urls(),  # type: ignore[misc]
        ]

    def has_import_permission(self, request: HttpRequest) -> bool:
        return self.has_add_permission(request) and self.has_change_permission(request)  # type: ignore[attr-defined]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        context = {
            **(extra_context or {}),
            "can_import_catalog": self.has_import_permission(request),
        }
        return super().changelist_view(request, context)  # type: ignore[misc]

    def import_catalog_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = CatalogImportForm(request.POST or None, request.FILES or None)
        row_errors: list[str] = []
        if request.method == "POST" and form.is_valid():
            company = form.cleaned_data["company"]
            dry_run = form.cleaned_data["dry_run"]
            try:
                result = catalog_import(
                    company=company,
                    rows=form.cleaned_data["file"],
                    actor=request.user,
                    dry_run=dry_run,
                )
            except CatalogImportError as exc:
                row_errors = exc.row_errors
                form.add_error(None, exc.message)
            else:
                prefix = "Checked, nothing written: " if dry_run else "Catalog imported: "
                self.message_user(request, f"{prefix}{company.client_id}: {result.summary()}.")  # type: ignore[attr-defined]
                url = reverse("admin:rewards_reward_changelist")
                return HttpResponseRedirect(f"{url}?company__id__exact={company.pk}")
        opts = self.model._meta  # type: ignore[attr-defined]
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "opts": opts,
            "title": "Import catalog",
            "form": form,
            "row_errors": row_errors,
        }
        return TemplateResponse(request, "admin/rewards/reward/import_catalog.html", context)

    def export_catalog_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)  # type: ignore[attr-defined]
        return self._catalog_response(request, changelist.get_queryset(request))

    @admin.action(description="Export the selected rewards (catalog JSON)", permissions=["view"])
    def export_catalog(self, request: HttpRequest, queryset: QuerySet[Reward]) -> HttpResponse:
        return self._catalog_response(request, queryset)

    def _catalog_response(self, request: HttpRequest, rewards: QuerySet[Reward]) -> HttpResponse:
        # Keys are unique per company: a file is one company's catalog, or it could not be
        # imported back.
        companies = list(
            Company.objects.filter(pk__in=rewards.order_by().values("company_id").distinct())[:2]
        )
        if len(companies) != 1:
            self.message_user(  # type: ignore[attr-defined]
                request,
                "A catalog file holds one company's rewards: filter the list by company first."
                if companies
                else "No rewards to export.",
                messages.WARNING,
            )
            url = reverse("admin:rewards_reward_changelist")
            query = request.GET.urlencode()
            return HttpResponseRedirect(f"{url}?{query}" if query else url)
        company = companies[0]
        response = HttpResponse(
            catalog_export_json(rewards=rewards), content_type="application/json; charset=utf-8"
        )
        filename = f"catalog-{company.client_id}-{timezone.localdate():%Y%m%d}.json"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
