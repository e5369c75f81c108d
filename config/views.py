"""Project-level views: health check and the error pages of each API family."""

from __future__ import annotations

import logging
import uuid

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.defaults import page_not_found, server_error

from config.api.errors import envelope_response
from config.api.loyalty import LoyaltyCode

logger = logging.getLogger(__name__)

LOYALTY_PREFIX = "/api_gateway/"


def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the cache both answer, 503 otherwise."""
    checks = {"database": False, "cache": False}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            checks["database"] = cursor.fetchone() == (1,)
    except Exception:
        logger.warning("healthz: database check failed", exc_info=True)
    try:
        probe = uuid.uuid4().hex
        cache.set("healthz", probe, 10)
        checks["cache"] = cache.get("healthz") == probe
    except Exception:
        logger.warning("healthz: cache check failed", exc_info=True)
    ok = all(checks.values())
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503
    )


def _loyalty_error(status: int, message: str) -> JsonResponse:
    # The family's own numeric codes (docs/loyalty.md), as its DRF exception handler answers.
    code = {
        400: LoyaltyCode.INVALID_REQUEST,
        404: LoyaltyCode.NOT_FOUND,
        500: LoyaltyCode.INTERNAL_ERROR,
    }[status]
    return JsonResponse(
        {"status": {"success": False, "code": int(code), "message": message}}, status=status
    )


# Exempt like every DRF view: else CsrfViewMiddleware answered a POST, PUT or DELETE to an unknown
# API path with its 403 HTML page before this view could say 404 in the envelope.
@csrf_exempt
def api_not_found(request: HttpRequest) -> HttpResponse:
    return handler404(request)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/v1/"):
        return envelope_response(404, "Not found", "not_found")
    if request.path.startswith(LOYALTY_PREFIX):
        return _loyalty_error(404, "Not found")
    return page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/v1/"):
        return envelope_response(500, "Internal server error", "internal_error")
    if request.path.startswith(LOYALTY_PREFIX):
        return _loyalty_error(500, "Internal server error")
    return server_error(request)


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/v1/"):
        return envelope_response(400, "Bad request", "bad_request")
    if request.path.startswith(LOYALTY_PREFIX):
        return _loyalty_error(400, "Bad request")
    from django.views.defaults import bad_request

    return bad_request(request, exception)
