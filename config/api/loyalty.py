"""Plumbing of the Loyalty API family (`/api_gateway/rewards/core/...`): HTTP Basic auth with a
company's client id and secret, the seed's status envelope, and its numeric codes.

    {"status": {"success": false, "code": 1014, "message": "Cannot find customer ..."}}

The seeds define only 1014; the other codes are ours, listed in `LoyaltyCode` and docs/loyalty.md.
"""

from __future__ import annotations

import base64
import binascii
import logging
from enum import IntEnum
from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from companies.models import CompanySecret
from companies.services import secret_digest

from .auth import Caller, CompanyInactive, CompanyTokenAuthentication, IsCompany
from .errors import classify_exception
from .throttling import CompanyCallsThrottle

logger = logging.getLogger(__name__)


class LoyaltyCode(IntEnum):
    OK = 200
    PENDING = 202  # a reward still waiting on its vendor
    PARTIALLY_ISSUED = 207  # issue call: some rewards issued, others failed (each says why)
    INVALID_REQUEST = 1001
    INVALID_STORE = 1002
    UNKNOWN_BRAND = 1003
    UNAUTHORIZED = 1004
    FORBIDDEN = 1005
    RATE_LIMITED = 1006
    NOT_FOUND = 1008
    INTERNAL_ERROR = 1009
    CUSTOMER_NOT_FOUND = 1014
    INSUFFICIENT_POINTS = 1015
    REWARD_NOT_FOUND = 1020
    OUT_OF_STOCK = 1021
    OUTSIDE_WINDOW = 1022
    NOT_IN_SEGMENT = 1023
    REWARD_INACTIVE = 1024
    VENDOR_FAILED = 1025
    INVALID_QUANTITY = 1026
    ORG_NOT_IN_SCOPE = 1027
    DUPLICATE_REQUEST = 1028
    NOTHING_ISSUED = 1029  # issue call: every reward failed (each says why)
    VALIDATION_CODE_INVALID = 1030
    GROUP_NOT_FOUND = 1031
    NOT_PAYABLE = 1032  # the reward has no points price (no points_cost / conversion ratio)
    NOT_REDEEMABLE = 1033  # is-redeemable: a reward of the set cannot be issued now
    MAIL_UNAVAILABLE = 1034  # the validation code could not be e-mailed; nothing was kept


# ApplicationError.type (shared with the Partner API) → the Loyalty API's numeric code.
CODE_FOR_TYPE: dict[str, LoyaltyCode] = {
    "customer_not_found": LoyaltyCode.CUSTOMER_NOT_FOUND,
    "invalid_store": LoyaltyCode.INVALID_STORE,
    "unknown_brand": LoyaltyCode.UNKNOWN_BRAND,
    "insufficient_points": LoyaltyCode.INSUFFICIENT_POINTS,
    "reward_not_found": LoyaltyCode.REWARD_NOT_FOUND,
    "out_of_stock": LoyaltyCode.OUT_OF_STOCK,
    "outside_window": LoyaltyCode.OUTSIDE_WINDOW,
    "not_in_segment": LoyaltyCode.NOT_IN_SEGMENT,
    "reward_inactive": LoyaltyCode.REWARD_INACTIVE,
    "vendor_failed": LoyaltyCode.VENDOR_FAILED,
    "invalid_quantity": LoyaltyCode.INVALID_QUANTITY,
    "org_not_in_scope": LoyaltyCode.ORG_NOT_IN_SCOPE,
    "validation_code_invalid": LoyaltyCode.VALIDATION_CODE_INVALID,
    "mail_unavailable": LoyaltyCode.MAIL_UNAVAILABLE,
    "group_not_found": LoyaltyCode.GROUP_NOT_FOUND,
    "duplicate_request": LoyaltyCode.DUPLICATE_REQUEST,
    "not_payable": LoyaltyCode.NOT_PAYABLE,
    "not_authenticated": LoyaltyCode.UNAUTHORIZED,
    "invalid_token": LoyaltyCode.UNAUTHORIZED,
    "token_revoked": LoyaltyCode.UNAUTHORIZED,
    "invalid_credentials": LoyaltyCode.UNAUTHORIZED,
    "company_inactive": LoyaltyCode.FORBIDDEN,
    "forbidden": LoyaltyCode.FORBIDDEN,
    "rate_limited": LoyaltyCode.RATE_LIMITED,
    "not_found": LoyaltyCode.NOT_FOUND,
    "internal_error": LoyaltyCode.INTERNAL_ERROR,
}

CUSTOMER_NOT_FOUND_MESSAGE = "Cannot find customer for provided mobile/external-id/e-mail/id"


def status_block(code: int, message: str, *, success: bool | None = None) -> dict[str, Any]:
    ok = success if success is not None else code in (LoyaltyCode.OK, LoyaltyCode.PENDING)
    return {"success": ok, "code": int(code), "message": message}


def loyalty_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    # Reuse the Partner API's classification (status, type, field errors, Retry-After) and
    # re-shape it into this family's envelope.
    status, body, headers = classify_exception(exc)
    code = CODE_FOR_TYPE.get(body["type"], LoyaltyCode.INVALID_REQUEST)
    payload: dict[str, Any] = {"status": status_block(code, body["message"], success=False)}
    if body.get("errors"):
        payload["errors"] = body["errors"]
    response = Response(payload, status=status, headers=headers)
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        response["WWW-Authenticate"] = auth_header
    return response


class CompanyBasicAuthentication(BaseAuthentication):
    """HTTP Basic: the company's client id as user name, one of its live secrets as password."""

    def authenticate(self, request: Any) -> tuple[Caller, None] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise exceptions.AuthenticationFailed(
                "Malformed Basic credentials", code="invalid_credentials"
            ) from exc
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            raise exceptions.AuthenticationFailed(
                "Malformed Basic credentials", code="invalid_credentials"
            )
        found = (
            CompanySecret.objects.select_related("company")
            .filter(digest=secret_digest(secret), revoked_at__isnull=True)
            .first()
        )
        if found is None or found.company.client_id != client_id:
            raise exceptions.AuthenticationFailed(
                "Invalid client id or secret", code="invalid_credentials"
            )
        if not found.company.is_active:
            raise CompanyInactive()
        return Caller(company=found.company, secret_id=found.pk), None

    def authenticate_header(self, request: Any) -> str:
        return 'Basic realm="api"'


class LoyaltyApi(APIView):
    """Base of every Loyalty API view: Basic or company Bearer auth, per-company rate limit,
    and the seed's envelope for every error."""

    authentication_classes = [CompanyBasicAuthentication, CompanyTokenAuthentication]
    permission_classes = [IsCompany]
    throttle_classes = [CompanyCallsThrottle]

    def get_exception_handler(self):  # type: ignore[override]
        return loyalty_exception_handler


def resolve_store(request: Any) -> Any:
    """`username` in the query is a store code of the calling company."""
    from companies.selectors import store_get

    from .errors import ApplicationError

    code = (request.query_params.get("username") or "").strip()
    if not code:
        raise ApplicationError(
            "username (store) is required",
            type="invalid_store",
            status=400,
            errors={"username": ["required"]},
        )
    store = store_get(company=request.user.company, code=code)
    if store is None:
        raise ApplicationError(f"Unknown store {code!r}", type="invalid_store", status=400)
    return store


def resolve_customer(
    company: Any, *, mobile: Any = None, email: Any = None, external_id: Any = None
) -> Any:
    """The customer named by mobile, e-mail or external id, within `company`; code 1014 else."""
    from customers.selectors import customer_find

    from .errors import ApplicationError

    mobile, email, external_id = (
        str(v).strip() if v not in (None, "") else None for v in (mobile, email, external_id)
    )
    if not (mobile or email or external_id):
        raise ApplicationError(
            "One of mobile, email or externalId is required",
            type="validation_error",
            status=400,
            errors={"mobile": ["one of mobile, email, externalId is required"]},
        )
    customer = customer_find(company=company, mobile=mobile, email=email, external_id=external_id)
    if customer is None:
        raise ApplicationError(CUSTOMER_NOT_FOUND_MESSAGE, type="customer_not_found", status=404)
    return customer
