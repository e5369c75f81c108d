"""Pagination for list endpoints: `limit` (capped) and `page`, with the total."""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination


class LimitPagePagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "limit"
    max_page_size = 100
    page_query_param = "page"
