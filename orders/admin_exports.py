"""Finance exports from the admin's order list: the orders the list shows, with whatever filters
and search are applied, as CSV (streamed) or XLSX; plus a date-range filter for that list.
The list's export buttons also export the vouchers of reward issues (the loyalty issue call,
no order) that the same filters select (`changelist_issues`); the export action, of ticked
orders, exports those orders only.

Kept apart from orders/admin.py, which only mixes `OrderExportAdminMixin` into OrderAdmin.
The rows come from orders.exports, as for the `export_orders` command.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import build_q_object_from_lookup_parameters
from django.core.exceptions import FieldError, PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from .exports import (
    ISSUE_ID_PREFIX,
    csv_chunks,
    issue_status_q,
    order_export_rows,
    xlsx_write,
)
from .models import Order, RewardIssue

EXPORT_PERMISSION = "orders.export_orders"
CODES_PERMISSION = "orders.view_voucher_codes"


class DateRangeListFilter(admin.DateFieldListFilter):
    """The usual links (today, past 7 days, this month...) plus a from / to form, both days
    inclusive (in TIME_ZONE), compared as a half-open range so the index on the field is used.
    The links drop the range (they remove every `<field>__` parameter), and the range form
    drops the links' parameters (its hidden inputs skip them)."""

    template = "admin/orders/date_range_filter.html"

    def __init__(
        self,
        field: Any,
        request: HttpRequest,
        params: dict[str, list[str]],
        model: Any,
        model_admin: Any,
        field_path: str,
    ) -> None:
        self.lookup_kwarg_from = f"{field_path}__from"
        self.lookup_kwarg_to = f"{field_path}__to"
        super().__init__(field, request, params, model, model_admin, field_path)

    def expected_parameters(self) -> list[str]:
        return [*super().expected_parameters(), self.lookup_kwarg_from, self.lookup_kwarg_to]

    def _day(self, name: str) -> dt.date | None:
        values = self.used_parameters.get(name)
        if not values or not values[-1]:
            return None
        try:
            return dt.date.fromisoformat(values[-1])
        except ValueError as exc:
            raise IncorrectLookupParameters(exc) from exc

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        day_from = self._day(self.lookup_kwarg_from)
        day_to = self._day(self.lookup_kwarg_to)
        links = {
            k: v
            for k, v in self.used_parameters.items()
            if k not in (self.lookup_kwarg_from, self.lookup_kwarg_to)
        }
        self.used_parameters, saved = links, self.used_parameters
        try:
            queryset = super().queryset(request, queryset)
        finally:
            self.used_parameters = saved
        tz = timezone.get_current_timezone()
        if day_from is not None:
            start = dt.datetime.combine(day_from, dt.time.min, tzinfo=tz)
            queryset = queryset.filter(**{f"{self.field_path}__gte": start})
        if day_to is not None and day_to < dt.date.max:  # the last day has no next: no bound
            end = dt.datetime.combine(day_to + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
            queryset = queryset.filter(**{f"{self.field_path}__lt": end})
        return queryset

    def choices(self, changelist: Any) -> Any:
        # The filter template gets only `spec` and the choices: leave the form's context on
        # the spec (choices are listed before the template renders).
        self.form = self.range_form(changelist)
        yield from super().choices(changelist)

    def range_form(self, changelist: Any) -> dict[str, Any]:
        """What the template's form needs: the current days, and the list's other parameters
        as hidden inputs so applying the range keeps the other filters and the search."""
        hidden = [
            (name, value)
            for name, value in changelist.params.items()
            if not name.startswith(self.field_generic) and name != "p"
        ]
        current = {
            name: (self.used_parameters.get(name) or [""])[-1]
            for name in (self.lookup_kwarg_from, self.lookup_kwarg_to)
        }
        return {
            "param_from": self.lookup_kwarg_from,
            "param_to": self.lookup_kwarg_to,
            "value_from": current[self.lookup_kwarg_from],
            "value_to": current[self.lookup_kwarg_to],
            "hidden": hidden,
            "clear_url": changelist.get_query_string(remove=[self.field_generic]),
        }


def _filename(extension: str) -> str:
    return f"orders-{timezone.localtime():%Y%m%d-%H%M%S}.{extension}"


def changelist_issues(request: HttpRequest, changelist: Any) -> QuerySet[RewardIssue] | None:
    """The reward issues the order list's current filters select, so that its export holds the
    issue vouchers finance expects beside the orders: the same date range (`created_at`: the
    range form, the date links, the date hierarchy), company and status (mapped by
    exports.issue_status_q). A search keeps the issues of that customer mobile, or the issue
    named `issue_<pk>`; an order id or reference matches no issue. None (orders only) when a
    filter has no meaning for reward issues."""
    filter_specs, _, remaining, _, _ = changelist.get_filters(request)
    issues = RewardIssue.objects.all()
    try:
        for spec in filter_specs:
            if getattr(spec, "field_path", None) == "status":
                chosen = spec.used_parameters.get(spec.lookup_kwarg) or []
                if isinstance(chosen, str):
                    chosen = [chosen]
                if chosen:
                    statuses = Q(pk__in=[])
                    for value in chosen:
                        statuses |= issue_status_q(value)
                    issues = issues.filter(statuses)
                continue
            filtered = spec.queryset(request, issues)
            if filtered is not None:
                issues = filtered
        if any(key.split("__")[0] == "status" for key in remaining):
            return None  # a raw status lookup (not the filter's): no mapping to issues
        issues = issues.filter(build_q_object_from_lookup_parameters(remaining))
    except (FieldError, ValidationError, ValueError):
        return None
    term = changelist.query.strip()
    if term:
        matches = Q(customer__mobile=term)
        if term.startswith(ISSUE_ID_PREFIX) and term[len(ISSUE_ID_PREFIX) :].isdigit():
            matches |= Q(pk=int(term[len(ISSUE_ID_PREFIX) :]))
        issues = issues.filter(matches)
    return issues


def orders_csv_response(
    *,
    orders: QuerySet[Order],
    show_codes: bool,
    issues: QuerySet[RewardIssue] | None = None,
) -> StreamingHttpResponse:
    """Stream the CSV: rows are read from a server-side cursor and sent as they are written,
    so neither the process nor the response ever holds the whole file."""
    response = StreamingHttpResponse(
        csv_chunks(order_export_rows(orders=orders, show_codes=show_codes, issues=issues)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{_filename("csv")}"'
    return response


def orders_xlsx_response(
    *,
    orders: QuerySet[Order],
    show_codes: bool,
    issues: QuerySet[RewardIssue] | None = None,
) -> FileResponse:
    """XLSX is a zip and cannot be streamed while written: openpyxl (write-only mode) writes it
    to a temporary file, which is then streamed and deleted when the response closes."""
    file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by FileResponse)
    xlsx_write(order_export_rows(orders=orders, show_codes=show_codes, issues=issues), file)
    file.seek(0)
    return FileResponse(
        file,
        as_attachment=True,
        filename=_filename("xlsx"),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


class OrderExportAdminMixin:
    """Adds to an order ModelAdmin: "Export CSV / XLSX" buttons that export what the list
    currently shows (and the reward issues its filters select: changelist_issues), and an
    action exporting the selected orders (those only). Both need
    `orders.export_orders`; codes are whole only with `orders.view_voucher_codes`."""

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(EXPORT_PERMISSION)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view  # type: ignore[attr-defined]
        return [
            path(
                "export/<str:fmt>/",
                view(self.export_view),
                name="orders_order_export",
            ),
            *super().get_urls(),  # type: ignore[misc]
        ]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        context = {**(extra_context or {}), "can_export": self.has_export_permission(request)}
        return super().changelist_view(request, context)  # type: ignore[misc]

    def export_view(self, request: HttpRequest, fmt: str) -> HttpResponse:
        if not self.has_export_permission(request):
            raise PermissionDenied
        if fmt not in ("csv", "xlsx"):
            return HttpResponse(status=404)
        try:
            changelist = self.get_changelist_instance(request)  # type: ignore[attr-defined]
        except IncorrectLookupParameters:
            return HttpResponseRedirect(reverse("admin:orders_order_changelist") + "?e=1")
        orders = changelist.get_queryset(request)
        return self._export(request, orders, fmt, issues=changelist_issues(request, changelist))

    def _export(
        self,
        request: HttpRequest,
        orders: QuerySet[Order],
        fmt: str,
        *,
        issues: QuerySet[RewardIssue] | None = None,
    ) -> HttpResponse:
        show_codes = request.user.has_perm(CODES_PERMISSION)
        if fmt == "xlsx":
            return orders_xlsx_response(orders=orders, show_codes=show_codes, issues=issues)
        return orders_csv_response(orders=orders, show_codes=show_codes, issues=issues)

    @admin.action(description="Export the selected orders (CSV)", permissions=["export"])
    def export_selected_csv(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse:
        return self._export(request, queryset, "csv")
