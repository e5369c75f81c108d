"""Loyalty API reads of a customer's points: balance and ledger."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.loyalty import LoyaltyApi, resolve_customer, resolve_store, status_block

from .selectors import ledger_for_customer

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


def _page_params(request: Request) -> tuple[int, int]:
    from config.api.errors import ApplicationError

    try:
        limit = int(request.query_params.get("limit", 10))
        page = int(request.query_params.get("page", 0))
    except ValueError as exc:
        raise ApplicationError(
            "limit and page must be integers", type="validation_error", status=400
        ) from exc
    if not 1 <= limit <= 100 or page < 0:
        raise ApplicationError(
            "limit must be 1..100 and page ≥ 0", type="validation_error", status=400
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
        limit, page = _page_params(request)
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
