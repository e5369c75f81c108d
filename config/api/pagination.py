"""Pagination for list endpoints: `limit` (capped) and `page`, with the total.

Both must be positive integers written in ASCII digits, else 422 `validation_error` naming
them (DRF alone answers a bad page with 404 and silently ignores a bad limit). A `limit` above
`max_page_size` is capped; a `page` past the last one is 404 `not_found`.
"""

from __future__ import annotations

import sys
from typing import Any

from django.http import QueryDict
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

POSITIVE_INTEGER_MESSAGE = "Must be a positive integer (1 or more)."


def positive_int(raw: str) -> int | None:
    """`raw` as a positive integer, or None when it is not one ("", "abc", "0", "-1", "+1",
    " 1", "1.0", non-ASCII digits). A number too long to be meaningful reads as sys.maxsize
    (so a huge limit is capped and a huge page is past the end, without parsing it)."""
    if not raw.isascii() or not raw.isdigit():
        return None
    digits = raw.lstrip("0")
    if not digits:
        return None
    return int(digits) if len(digits) <= 18 else sys.maxsize


class LimitPagePagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "limit"
    max_page_size = 100
    page_query_param = "page"
    last_page_strings = ()  # `page=last` is not a positive integer either

    def query_errors(self, query_params: QueryDict) -> dict[str, list[str]]:
        """Errors of `limit` and `page`, by name, so a view can report them together with its
        own filters' errors."""
        return {
            name: [POSITIVE_INTEGER_MESSAGE]
            for name in (self.page_size_query_param, self.page_query_param)
            if name in query_params and positive_int(query_params[name]) is None
        }

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        errors = self.query_errors(request.query_params)
        if errors:
            raise serializers.ValidationError(errors)
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        size = positive_int(raw) if raw is not None else None
        return min(size, self.max_page_size) if size is not None else self.page_size

    def get_page_number(self, request: Request, paginator: Any) -> int:
        raw = request.query_params.get(self.page_query_param)
        number = positive_int(raw) if raw is not None else None
        return number if number is not None else 1
