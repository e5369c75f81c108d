"""Loyalty API calls of the points engine: a customer's balance and ledger, the is-redeemable
check, and validation codes for issue calls made without skip_validation=true. The serializer
fields shared with the issue call (orders.loyalty_apis) live here too."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.errors import ApplicationError
from config.api.loyalty import (
    CODE_FOR_TYPE,
    LoyaltyApi,
    LoyaltyCode,
    resolve_customer,
    resolve_store,
    status_block,
)
from config.api.views import json_object

from .pricing import Ask, rewards_redeemable
from .selectors import customer_group_for_redemption, ledger_for_customer, org_scope
from .services import validation_code_send, validation_code_ttl

CUSTOMER_QUERY = [
    OpenApiParameter("username", str, required=True, description="Store code of the company."),
    OpenApiParameter("mobile", str, description="Customer's mobile (one identifier required)."),
    OpenApiParameter("email", str),
    OpenApiParameter("externalId", str),
]


def _customer_from_query(request: Request):
    resolve_store(request)
    params = request.query_params
    return resolve_customer(
        request.user.company,
        mobile=params.get("mobile"),
        email=params.get("email"),
        external_id=params.get("externalId"),
    )


MAX_PAGE = 1_000_000  # keeps OFFSET (page x limit) far inside PostgreSQL's bigint


def page_params(request: Request) -> tuple[int, int]:
    """`limit` (1..100, default 10) and `page` (0-based, default 0) from the query."""
    try:
        limit = int(str(request.query_params.get("limit", 10))[:12])
        page = int(str(request.query_params.get("page", 0))[:12])
    except ValueError as exc:
        raise ApplicationError(
            "limit and page must be integers", type="validation_error", status=400
        ) from exc
    if not 1 <= limit <= 100 or not 0 <= page <= MAX_PAGE:
        raise ApplicationError(
            f"limit must be 1..100 and page 0..{MAX_PAGE}", type="validation_error", status=400
        )
    return limit, page


class PointsBalanceApi(LoyaltyApi):
    class OutputSerializer(serializers.Serializer):
        balance = serializers.IntegerField()
        held = serializers.IntegerField()
        available = serializers.IntegerField()

    @extend_schema(parameters=CUSTOMER_QUERY, tags=["loyalty"], responses={200: OutputSerializer})
    def get(self, request: Request) -> Response:
        customer = _customer_from_query(request)
        return Response(
            {
                "status": status_block(200, "Points fetched successfully"),
                "customerId": customer.pk,
                "points": {
                    "balance": customer.points_balance,
                    "held": customer.points_held,
                    "available": customer.points_available,
                },
            }
        )


class PointsLedgerApi(LoyaltyApi):
    class EntrySerializer(serializers.Serializer):
        id = serializers.IntegerField()
        kind = serializers.CharField()
        points = serializers.IntegerField()
        held = serializers.IntegerField()
        balanceAfter = serializers.IntegerField(source="balance_after")
        heldAfter = serializers.IntegerField(source="held_after")
        reason = serializers.CharField()
        reference = serializers.CharField()
        createdAt = serializers.DateTimeField(source="created_at")

    @extend_schema(
        parameters=[
            *CUSTOMER_QUERY,
            OpenApiParameter("limit", int, description="1..100, default 10"),
            OpenApiParameter("page", int, description="0-based, default 0"),
        ],
        tags=["loyalty"],
        responses={200: EntrySerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        customer = _customer_from_query(request)
        limit, page = page_params(request)
        entries = ledger_for_customer(customer=customer)
        total = entries.count()
        rows = entries[page * limit : (page + 1) * limit]
        return Response(
            {
                "status": status_block(200, "Ledger fetched successfully"),
                "customerId": customer.pk,
                "entries": self.EntrySerializer(rows, many=True).data,
                "pagination": {"limit": limit, "page": page, "total": total},
            }
        )


# --- Fields and bodies shared with the issue call ----------------------------------------------


def _type_error(what: str) -> serializers.ValidationError:
    return serializers.ValidationError(f"Must be a JSON {what}.", code="wrong_type")


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "integer"}]})
class IdentifierField(serializers.Field):
    """A string, or an integer the seed allows (mobile: 919456430850); kept as a string."""

    def __init__(self, *, max_length: int = 255, **kwargs: Any) -> None:
        self.max_length = max_length
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, bool) or not isinstance(data, str | int):
            raise _type_error("string")
        text = str(data).strip()
        if len(text) > self.max_length:
            raise serializers.ValidationError(f"At most {self.max_length} characters.")
        if "\x00" in text:  # PostgreSQL text cannot hold it: refused here, not a 500 there
            raise serializers.ValidationError("Null characters are not allowed.")
        return text

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}], "example": 350})
class IdNumberField(serializers.Field):
    """A positive integer id, as a JSON integer or a string of digits."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int | str):
            raise _type_error("integer")
        try:
            value = int(str(data).strip())
        except ValueError:
            raise serializers.ValidationError("Must be a whole number.") from None
        if not 1 <= value <= 2**63 - 1:
            raise serializers.ValidationError("Must be a positive id.")
        return value

    def to_representation(self, value: Any) -> Any:
        return value


MAX_QUANTITY_DIGITS = 15  # digits before the point, far above any limit of the calls


@extend_schema_field({"oneOf": [{"type": "number"}, {"type": "string"}], "example": 1})
class QuantityField(serializers.Field):
    """A JSON number or numeric string, kept exact as a Decimal; decimals are dropped later
    (loyalty.pricing), as the seed says."""

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool) or not isinstance(data, int | float | str):
            raise _type_error("number")
        text = repr(data) if isinstance(data, float) else str(data).strip()
        if len(text) > 40:
            raise serializers.ValidationError("Not a sensible quantity.")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise serializers.ValidationError("Must be a number.") from None
        if not value.is_finite():
            raise serializers.ValidationError("Must be a finite number.")
        if value and value.adjusted() > MAX_QUANTITY_DIGITS:
            # Refused here: 1e999999999 is 11 characters, but its integer part is not.
            raise serializers.ValidationError("Not a sensible quantity.")
        return value

    def to_representation(self, value: Any) -> Any:
        return value


def _has_nul(value: Any) -> bool:
    """Whether a NUL character is in any key or string of a parsed JSON value (no recursion:
    the value may be nested as deep as the parser allows)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class JsonObjectField(serializers.JSONField):
    """A JSON object (or null). Stored as jsonb, which cannot hold a NUL character anywhere."""

    def to_internal_value(self, data: Any) -> Any:
        if data is not None and not isinstance(data, Mapping):
            raise _type_error("object")
        if _has_nul(data):
            raise serializers.ValidationError("Null characters are not allowed.")
        return super().to_internal_value(data)


class CustomerBodySerializer(serializers.Serializer):
    """The customer identifiers a body carries (one is required), and the group fields."""

    mobile = IdentifierField(required=False, allow_null=True, max_length=32)
    email = IdentifierField(required=False, allow_null=True, max_length=254)
    externalId = IdentifierField(required=False, allow_null=True, max_length=100)
    user_group2_primary_user_id = IdentifierField(required=False, allow_null=True)
    user_group2_id = IdentifierField(required=False, allow_null=True)
    user_group2_external_id = IdentifierField(required=False, allow_null=True, max_length=100)


def customer_and_group_from_body(request: Request, data: Mapping[str, Any]):
    """The store check, then the customer (1014) and the group (1031) a validated body names."""
    resolve_store(request)
    customer = resolve_customer(
        request.user.company,
        mobile=data.get("mobile"),
        email=data.get("email"),
        external_id=data.get("externalId"),
    )
    group = customer_group_for_redemption(
        customer=customer,
        primary_user_id=data.get("user_group2_primary_user_id"),
        group_id=data.get("user_group2_id"),
        external_id=data.get("user_group2_external_id"),
    )
    return customer, group


def scope_from_headers(request: Request) -> frozenset[int]:
    """Connected orgs: DATA-SCOPE (SELF | OTHER) and DATA-SCOPE-ORG (Company ids)."""
    return org_scope(
        company=request.user.company,
        data_scope=request.headers.get("DATA-SCOPE"),
        data_scope_org=request.headers.get("DATA-SCOPE-ORG"),
    )


def validated(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=json_object(request))
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


SCOPE_HEADERS = [
    OpenApiParameter(
        "DATA-SCOPE",
        str,
        OpenApiParameter.HEADER,
        enum=["SELF", "OTHER"],
        description="Connected orgs: SELF (default) or OTHER (the orgs of DATA-SCOPE-ORG).",
    ),
    OpenApiParameter(
        "DATA-SCOPE-ORG",
        str,
        OpenApiParameter.HEADER,
        description="Comma-separated org ids (company ids): the caller or its child orgs.",
    ),
]


# --- Is-redeemable ------------------------------------------------------------------------------


class IsRedeemableApi(LoyaltyApi):
    """Could the customer pay for these rewards now, and how many points would it take? Changes
    nothing (no hold, no ledger row)."""

    class InputSerializer(CustomerBodySerializer):
        class RewardSerializer(serializers.Serializer):
            rewardId = IdNumberField()
            quantity = QuantityField()
            orgId = IdNumberField(required=False, allow_null=True)

        rewards = serializers.ListField(child=RewardSerializer(), allow_empty=False, max_length=50)

    class OutputSerializer(serializers.Serializer):
        isRedeemable = serializers.BooleanField()
        pointsRequired = serializers.IntegerField()
        pointsAvailable = serializers.IntegerField()
        groupLoyaltyRedemption = serializers.BooleanField()

    @extend_schema(
        request=InputSerializer,
        parameters=[CUSTOMER_QUERY[0], *SCOPE_HEADERS],
        responses={200: OutputSerializer},
        tags=["loyalty"],
    )
    def post(self, request: Request) -> Response:
        data = validated(self.InputSerializer, request)
        customer, group = customer_and_group_from_body(request, data)
        result = rewards_redeemable(
            company=request.user.company,
            customer=customer,
            group=group,
            scope=scope_from_headers(request),
            asks=[
                Ask(reward_id=r["rewardId"], quantity=r["quantity"], org_id=r.get("orgId"))
                for r in data["rewards"]
            ],
        )
        rewards = []
        for p in result.priced:
            if p.ok:
                block = status_block(LoyaltyCode.OK, "Redeemable")
            else:
                code = CODE_FOR_TYPE.get(p.refusal.type, LoyaltyCode.INVALID_REQUEST)
                block = status_block(code, p.refusal.message, success=False)
            rewards.append(
                {
                    "status": block,
                    "rewardId": p.ask.reward_id,
                    "orgId": p.org_id,
                    "quantity": p.quote.quantity if p.quote else 0,
                    "points": p.quote.points if p.quote else 0,
                }
            )
        if result.redeemable:
            top = status_block(LoyaltyCode.OK, "The rewards are redeemable")
        elif not all(p.ok for p in result.priced):
            top = status_block(
                LoyaltyCode.NOT_REDEEMABLE, "A reward cannot be issued now", success=False
            )
        else:
            top = status_block(
                LoyaltyCode.INSUFFICIENT_POINTS,
                f"Not enough points: {result.points_required} needed, "
                f"{result.points_available} available",
                success=False,
            )
        return Response(
            {
                "status": top,
                "isRedeemable": result.redeemable,
                "pointsRequired": result.points_required,
                "pointsAvailable": result.points_available,
                "groupLoyaltyRedemption": group is not None,
                "rewards": rewards,
            }
        )


# --- Validation codes ---------------------------------------------------------------------------


class ValidationCodeSendApi(LoyaltyApi):
    """E-mail the customer a short-lived, single-use code for an issue call made without
    skip_validation=true. The code itself is never in the answer."""

    class InputSerializer(serializers.Serializer):
        mobile = IdentifierField(required=False, allow_null=True, max_length=32)
        email = IdentifierField(required=False, allow_null=True, max_length=254)
        externalId = IdentifierField(required=False, allow_null=True, max_length=100)

    class OutputSerializer(serializers.Serializer):
        class StatusSerializer(serializers.Serializer):
            success = serializers.BooleanField()
            code = serializers.IntegerField()
            message = serializers.CharField()

        status = StatusSerializer()
        expiresInSeconds = serializers.IntegerField()

    @extend_schema(
        request=InputSerializer,
        parameters=[CUSTOMER_QUERY[0]],
        responses={200: OutputSerializer},
        tags=["loyalty"],
    )
    def post(self, request: Request) -> Response:
        data = validated(self.InputSerializer, request)
        resolve_store(request)
        customer = resolve_customer(
            request.user.company,
            mobile=data.get("mobile"),
            email=data.get("email"),
            external_id=data.get("externalId"),
        )
        validation_code_send(customer=customer)
        return Response(
            {
                "status": status_block(LoyaltyCode.OK, "Validation code sent"),
                "expiresInSeconds": int(validation_code_ttl().total_seconds()),
            }
        )
