from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.fields import (
    StrictCharField,
    StrictDecimalField,
    StrictIntegerField,
    StrictListField,
)
from config.api.pagination import LimitPagePagination
from config.api.views import CompanyOrCustomerApi, CustomerApi, json_object

from .models import Order
from .selectors import order_get, order_list
from .serializers import OrderOutputSerializer, OrderPageSerializer
from .services import (
    IDEMPOTENCY_KEY_MAX_LENGTH,
    MAX_LINE_ITEMS,
    MAX_QUANTITY_PER_LINE,
    LineInput,
    order_redeem_skus,
)

MONEY = {"max_digits": 14, "decimal_places": 2, "min_value": Decimal("0")}


@extend_schema_field(
    {
        "oneOf": [{"type": "number"}, {"type": "string"}],
        "description": "At least 0, at most 2 decimals; a JSON number or a numeric string.",
        "example": 1500,
    }
)
class MoneyField(StrictDecimalField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**MONEY, **kwargs)


ERROR_RESPONSES = {
    400: OpenApiResponse(description="Not JSON, not an object, or a field of the wrong type."),
    401: OpenApiResponse(description="Missing, invalid or expired token."),
    404: OpenApiResponse(description="Not found (or another company's / customer's)."),
    409: OpenApiResponse(description="request_in_progress: the key's first request runs."),
    422: OpenApiResponse(
        description="validation_error, out_of_stock, duplicate_order_reference, "
        "idempotency_key_reused."
    ),
}


class StrictObjectSerializer(serializers.Serializer):
    """A nested object that must be a JSON object: anything else is a type error (400)."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise serializers.ValidationError(
                {"non_field_errors": ["Must be a JSON object."]}, code="wrong_type"
            )
        return super().to_internal_value(data)


class BoundedListField(StrictListField):
    """A JSON array whose length is checked before its items, so an absurdly long array is
    refused without validating every element."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, list) and self.max_length is not None and len(data) > self.max_length:
            raise serializers.ValidationError(
                f"Ensure this field has no more than {self.max_length} elements.",
                code="max_length",
            )
        return super().to_internal_value(data)


@extend_schema_field(
    {"type": "string", "format": "date-time", "example": "2025-10-13T15:42:36-04:00"}
)
class TimestampWithOffsetField(StrictCharField):
    """ISO 8601 date-time that must carry a UTC offset (a naive time is ambiguous)."""

    def to_internal_value(self, data: Any) -> dt.datetime:
        text = super().to_internal_value(data)
        if len(text) > 64:  # checked here: CharField's own max_length would see the datetime
            raise serializers.ValidationError("Ensure this field has no more than 64 characters.")
        return _timestamp_with_offset(text)


def _timestamp_with_offset(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise serializers.ValidationError(
            "Must be an ISO 8601 date-time, e.g. 2025-10-13T15:42:36-04:00."
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise serializers.ValidationError(
            "Must carry a UTC offset, e.g. 2025-10-13T15:42:36-04:00 or ...Z."
        )
    try:
        parsed.astimezone(dt.UTC)
    except OverflowError:
        raise serializers.ValidationError("Out of range.") from None
    return parsed


class RedemptionLineItemInputSerializer(StrictObjectSerializer):
    # Kept as sent (the match itself is trimmed and case-insensitive).
    sku = StrictCharField(max_length=200, trim_whitespace=False)
    quantity = StrictIntegerField(min_value=1, max_value=MAX_QUANTITY_PER_LINE)
    price = MoneyField()

    def validate_sku(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value


class RedemptionCreateApi(CustomerApi):
    """A customer's purchase: vouchers for the SKUs mapped to rewards, and loyalty points."""

    class InputSerializer(serializers.Serializer):
        order_timestamp = TimestampWithOffsetField()
        order_total = MoneyField()
        order_items = StrictIntegerField(min_value=1)
        order_reference = StrictCharField(
            required=False, allow_null=True, allow_blank=True, max_length=100
        )
        line_items = BoundedListField(
            child=RedemptionLineItemInputSerializer(),
            allow_empty=False,
            max_length=MAX_LINE_ITEMS,
        )

    @extend_schema(
        request=InputSerializer,
        responses={201: OrderOutputSerializer, **ERROR_RESPONSES},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=False,
                description=(
                    f"Up to {IDEMPOTENCY_KEY_MAX_LENGTH} characters, scoped to the company. "
                    "A repeat returns the first answer's status and body and creates nothing; "
                    "the same key with another body is 422 idempotency_key_reused; a repeat "
                    "while the first still runs waits, then answers (409 after 15 s)."
                ),
            )
        ],
        tags=["orders"],
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=json_object(request))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = order_redeem_skus(
            customer=request.user.customer,
            company=request.user.company,
            order_timestamp=data["order_timestamp"],
            order_total=data["order_total"],
            order_items=data["order_items"],
            order_reference=data.get("order_reference") or None,
            line_items=[LineInput(**line) for line in data["line_items"]],
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        response = Response(result.body, status=result.status)
        if result.replayed:
            response["Idempotent-Replayed"] = "true"
        return response


class OrderListApi(CompanyOrCustomerApi):
    """Order history: a company token sees all the company's orders, a customer token only the
    customer's own. Newest first."""

    class FilterSerializer(serializers.Serializer):
        from_ = serializers.DateField(required=False, input_formats=["%Y-%m-%d"])
        to = serializers.DateField(required=False, input_formats=["%Y-%m-%d"])
        status = serializers.ChoiceField(choices=Order.Status.choices, required=False)
        customer_mobile = serializers.CharField(required=False, max_length=16)

        def get_fields(self) -> dict[str, serializers.Field]:
            fields = super().get_fields()
            fields["from"] = fields.pop("from_")  # `from` is a Python keyword
            return fields

        def validate_customer_mobile(self, value: str) -> str:
            if self.context["is_customer"]:
                raise serializers.ValidationError("Only a company token may filter by customer.")
            return value

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            if attrs.get("from") and attrs.get("to") and attrs["from"] > attrs["to"]:
                raise serializers.ValidationError({"to": ["Must not be before from."]})
            return attrs

    @extend_schema(
        operation_id="v1_orders_list",
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, description="Created on or after (UTC)."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Created on or before (UTC)."),
            OpenApiParameter("status", OpenApiTypes.STR, enum=Order.Status.values),
            OpenApiParameter("customer_mobile", OpenApiTypes.STR, description="Company only."),
            OpenApiParameter(
                "limit", OpenApiTypes.INT, description="Page size, 20, at most 100 (capped)."
            ),
            OpenApiParameter(
                "page", OpenApiTypes.INT, description="1-based page number; 404 past the last."
            ),
        ],
        responses={200: OrderPageSerializer, **ERROR_RESPONSES},
        tags=["orders"],
    )
    def get(self, request: Request) -> Response:
        caller = request.user
        filters = self.FilterSerializer(
            data=request.query_params, context={"is_customer": caller.is_customer}
        )
        paginator = LimitPagePagination()
        # One 422 names every bad parameter, the filters' and `limit` / `page` alike.
        errors = {} if filters.is_valid() else dict(filters.errors)
        errors.update(paginator.query_errors(request.query_params))
        if errors:
            raise serializers.ValidationError(errors)
        data = filters.validated_data
        queryset = order_list(
            company=caller.company,
            customer=caller.customer,
            created_from=data.get("from"),
            created_to=data.get("to"),
            status=data.get("status"),
            customer_mobile=data.get("customer_mobile"),
        )
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(OrderOutputSerializer(page, many=True).data)


class OrderDetailApi(CompanyOrCustomerApi):
    @extend_schema(
        responses={200: OrderOutputSerializer, **ERROR_RESPONSES},
        tags=["orders"],
    )
    def get(self, request: Request, order_id: str) -> Response:
        caller = request.user
        order = order_get(company=caller.company, public_id=order_id, customer=caller.customer)
        if order is None:
            raise Http404
        return Response(OrderOutputSerializer(order).data)
