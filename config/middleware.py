"""Project middleware."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from config.views import handler400


class RefuseNulCharactersMiddleware:
    """PostgreSQL text cannot hold NUL (0x00), and the database driver raises on one. Views pass
    the path and query parameters to lookups as they come (a store `username`, a `mobile`, a
    brand, an order id), so `%00` in any of them was a 500. Such a request is malformed: 400, in
    its API family's envelope (handler400)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.GET.lists()
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in value for value in values) for key, values in query
        ):
            return handler400(request)
        return self.get_response(request)
