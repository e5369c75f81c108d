"""Business errors and the Partner API's error envelope.

Services raise `ApplicationError`; the exception handler below turns it, DRF's own errors,
`Http404`, rate limits and anything unexpected into one envelope:

    {"name": "Unauthorized", "message": "...", "code": 0, "status": 401,
     "type": "invalid_token", "errors": {"field": ["..."]}}
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

logger = logging.getLogger(__name__)

# Field errors whose code is one of these mean "the JSON value has the wrong type": 400, not 422.
TYPE_ERROR_CODES = frozenset({"wrong_type"})


class ApplicationError(Exception):
    """A business rule said no. `type` is the stable identifier clients branch on."""

    def __init__(
        self,
        message: str,
        *,
        type: str,
        status: int = 422,
        errors: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.type = type
        self.status = status
        self.errors = errors
        self.extra = extra or {}


def envelope(
    status: int, message: str, type: str, errors: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": HTTPStatus(status).phrase,
        "message": message,
        "code": 0,
        "status": status,
        "type": type,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    return body


def envelope_response(status: int, message: str, type: str, **kwargs: Any) -> JsonResponse:
    """The envelope for answers produced outside DRF (unknown paths, handler500)."""
    return JsonResponse(envelope(status, message, type, **kwargs), status=status)


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            return [str(item) for item in detail]
        return [_flatten(item) for item in detail]
    return [str(detail)]


def _has_type_error(codes: Any) -> bool:
    if isinstance(codes, dict):
        return any(_has_type_error(value) for value in codes.values())
    if isinstance(codes, list):
        return any(_has_type_error(value) for value in codes)
    return codes in TYPE_ERROR_CODES


def classify_exception(exc: Exception) -> tuple[int, dict[str, Any], dict[str, str]]:
    headers: dict[str, str] = {}
    if isinstance(exc, ApplicationError):
        return exc.status, envelope(exc.status, exc.message, exc.type, exc.errors, **exc.extra), {}
    if isinstance(exc, drf.ValidationError):
        errors = _flatten(exc.detail)
        if not isinstance(errors, dict):
            errors = {"non_field_errors": errors}
        if _has_type_error(exc.get_codes()):
            return 400, envelope(400, "A field has the wrong JSON type", "invalid_type", errors), {}
        return 422, envelope(422, "The request is invalid", "validation_error", errors), {}
    if isinstance(exc, drf.ParseError):
        return 400, envelope(400, "The body is not valid JSON", "malformed_json"), {}
    if isinstance(exc, drf.Throttled):
        wait = max(1, int(exc.wait or 1))
        headers["Retry-After"] = str(wait)
        return 429, envelope(429, f"Rate limit exceeded; retry in {wait}s", "rate_limited"), headers
    if isinstance(exc, drf.APIException):
        # Auth, permission, method, media type: DRF's own status and code.
        code = exc.get_codes()
        type_ = code if isinstance(code, str) else exc.default_code
        type_ = {
            "not_authenticated": "not_authenticated",
            "authentication_failed": "invalid_token",
            "permission_denied": "forbidden",
        }.get(type_, type_)
        detail = exc.detail
        if isinstance(detail, dict):  # simplejwt's {"detail": ..., "code": ...}
            detail = detail.get("detail", exc.default_detail)
        return exc.status_code, envelope(exc.status_code, str(detail), type_), headers
    if isinstance(exc, Http404):
        return 404, envelope(404, "Not found", "not_found"), {}
    if isinstance(exc, RequestDataTooBig):
        return 413, envelope(413, "The request body is too large", "request_too_large"), {}
    if isinstance(exc, DjangoPermissionDenied):
        return 403, envelope(403, "You do not have permission", "forbidden"), {}
    logger.exception("Unexpected error in an API view", exc_info=exc)
    return 500, envelope(500, "Internal server error", "internal_error"), {}


def partner_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER. Every exception becomes an envelope; nothing leaks a trace."""
    status, body, headers = classify_exception(exc)
    response = Response(body, status=status, headers=headers)
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        response["WWW-Authenticate"] = auth_header
    return response
