"""Loyalty API calls on rewards (seeds 002 and 003): a customer's vouchers by brand, the issue
call paid with points, and an issued reward's read and fulfilment status. Views parse, call one
service or selector, and render; the rules live in orders.loyalty_services."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.errors import ApplicationError
from config.api.loyalty import (
    LoyaltyApi,
    LoyaltyCode,
    resolve_customer,
    resolve_store,
    status_block,
)
from loyalty.apis import (
    CUSTOMER_QUERY,
    SCOPE_HEADERS,
    CustomerBodySerializer,
    IdentifierField,
    IdNumberField,
    JsonObjectField,
    QuantityField,
    customer_and_group_from_body,
    page_params,
    scope_from_headers,
    validated,
)

from .apis import BoundedListField, StrictObjectSerializer
from .loyalty_selectors import (
    DEFAULT_VOUCHER_SORT,
    VOUCHER_SORTS,
    VOUCHER_STATUSES,
    brands_named,
    reward_issue_get,
    vouchers_by_brand,
)
from .loyalty_serializers import (
    BrandVoucherSerializer,
    LoyaltyErrorSerializer,
    RewardIssueDetailOutputSerializer,
    RewardIssueOutputSerializer,
    VouchersByBrandOutputSerializer,
)
from .loyalty_services import (
    MAX_REWARDS_PER_CALL,
    IssueItem,
    reward_issue_bulk,
    reward_issue_fulfilment_set,
)

ERRORS = dict.fromkeys((400, 401, 403, 404, 422, 429), LoyaltyErrorSerializer)


def _bad_query(name: str, message: str) -> ApplicationError:
    return ApplicationError(message, type="validation_error", status=400, errors={name: [message]})


class VouchersByBrandApi(LoyaltyApi):
    """GET v1/user/vouchers/brand/{brand}: the customer's vouchers of a brand (seed 002)."""

    @extend_schema(
        parameters=[
            *CUSTOMER_QUERY,
            OpenApiParameter(
                "sortBy", str, enum=[*VOUCHER_SORTS], description="Default INTOUCH_POINTS."
            ),
            OpenApiParameter("orderBy", str, enum=["ASC", "DESC"], description="Default ASC."),
            OpenApiParameter("status", str, enum=list(VOUCHER_STATUSES)),
            OpenApiParameter("limit", int, description="1..100, default 10"),
            OpenApiParameter("page", int, description="0-based, default 0"),
            *SCOPE_HEADERS,
        ],
        responses={200: VouchersByBrandOutputSerializer, **ERRORS},
        tags=["loyalty"],
    )
    def get(self, request: Request, brand: str) -> Response:
        query = request.query_params
        sort = (query.get("sortBy") or DEFAULT_VOUCHER_SORT).strip().upper()
        if sort not in VOUCHER_SORTS:
            raise _bad_query("sortBy", "One of " + ", ".join(VOUCHER_SORTS))
        order = (query.get("orderBy") or "ASC").strip().upper()
        if order not in ("ASC", "DESC"):
            raise _bad_query("orderBy", "ASC or DESC")
        status = (query.get("status") or "").strip().lower() or None
        if status is not None and status not in VOUCHER_STATUSES:
            raise _bad_query("status", "One of " + ", ".join(VOUCHER_STATUSES))
        limit, page = page_params(request)
        resolve_store(request)
        customer = resolve_customer(
            request.user.company,
            mobile=query.get("mobile"),
            email=query.get("email"),
            external_id=query.get("externalId"),
        )
        brands = brands_named(name=brand, org_ids=scope_from_headers(request))
        vouchers = vouchers_by_brand(
            customer=customer,
            brands=brands,
            status=status,
            sort=sort,
            descending=order == "DESC",
        )
        total = vouchers.count()
        rows = vouchers[page * limit : (page + 1) * limit]
        context = {"now": timezone.now(), "customer": customer}
        items = BrandVoucherSerializer(rows, many=True, context=context).data
        return Response(
            {
                "status": status_block(LoyaltyCode.OK, "User Reward fetched successfully"),
                # Seed 002 answers one `reward` object; a client written against it reads the
                # first voucher of the page there. The whole page is `rewards`.
                "reward": items[0] if items else None,
                "rewards": items,
                "pagination": {"limit": limit, "page": page, "total": total},
            }
        )


class RewardIssueItemInputSerializer(StrictObjectSerializer):
    rewardId = IdNumberField()
    quantity = QuantityField()
    requestId = IdentifierField(required=False, allow_null=True, max_length=255)
    orgId = IdNumberField(required=False, allow_null=True)
    paymentConfig = JsonObjectField(required=False, allow_null=True)
    customFields = JsonObjectField(required=False, allow_null=True)
    fulfillmentDetails = JsonObjectField(required=False, allow_null=True)
    params = serializers.JSONField(required=False, allow_null=True)  # accepted, not used

    def validate_paymentConfig(self, value: Any) -> Any:
        if value and value.get("id") is not None:
            value = {**value, "id": IdNumberField().run_validation(value["id"])}
        return value

    def validate_fulfillmentDetails(self, value: Any) -> Any:
        if value and value.get("status") is not None and not isinstance(value["status"], str):
            raise serializers.ValidationError("status must be a string.", code="wrong_type")
        return value


class RewardIssueApi(LoyaltyApi):
    """POST v1.1/user/rewards/issue/?username={store}&skip_validation=true (seed 003)."""

    class InputSerializer(CustomerBodySerializer):
        transactionNumber = IdentifierField(required=False, allow_null=True, max_length=100)
        notes = IdentifierField(required=False, allow_null=True, max_length=2000)
        eventLogId = IdentifierField(required=False, allow_null=True, max_length=255)
        customFields = JsonObjectField(required=False, allow_null=True)
        validationCode = IdentifierField(required=False, allow_null=True, max_length=20)
        rewards = BoundedListField(
            child=RewardIssueItemInputSerializer(),
            allow_empty=False,
            max_length=MAX_REWARDS_PER_CALL,
        )
        # Accepted for seed clients, not used: the reward's org is rewards[i].orgId.
        brand = serializers.JSONField(required=False, allow_null=True)
        orgLevelDetails = serializers.JSONField(required=False, allow_null=True)

    @extend_schema(
        request=InputSerializer,
        parameters=[
            CUSTOMER_QUERY[0],
            OpenApiParameter(
                "skip_validation",
                str,
                description="true: no validation code. Anything else: validationCode is required.",
            ),
            *SCOPE_HEADERS,
        ],
        responses={200: RewardIssueOutputSerializer, **ERRORS},
        tags=["loyalty"],
    )
    def post(self, request: Request) -> Response:
        data = validated(self.InputSerializer, request)
        store = resolve_store(request)
        customer, group = customer_and_group_from_body(request, data)
        skip = (request.query_params.get("skip_validation") or "").strip().lower() == "true"
        result = reward_issue_bulk(
            company=request.user.company,
            customer=customer,
            group=group,
            scope=scope_from_headers(request),
            store_code=store.code,
            transaction_number=data.get("transactionNumber") or "",
            notes=data.get("notes") or "",
            event_log_id=data.get("eventLogId") or "",
            custom_fields=data.get("customFields"),
            skip_validation=skip,
            validation_code=data.get("validationCode"),
            items=[
                IssueItem(
                    reward_id=r["rewardId"],
                    quantity=r["quantity"],
                    org_id=r.get("orgId"),
                    request_id=r.get("requestId") or None,
                    payment_config_id=(r.get("paymentConfig") or {}).get("id"),
                    custom_fields=r.get("customFields") or {},
                    fulfilment_details=r.get("fulfillmentDetails") or None,
                )
                for r in data["rewards"]
            ],
        )
        return Response(result.body, status=result.http_status)


class RewardIssueDetailApi(LoyaltyApi):
    """GET v1/user/rewards/{transactionId}: an issued reward's answer as it stands now (vendor
    voucher once fulfilled, fulfilment status)."""

    @extend_schema(
        parameters=[CUSTOMER_QUERY[0]],
        responses={200: RewardIssueDetailOutputSerializer, **ERRORS},
        tags=["loyalty"],
    )
    def get(self, request: Request, transaction_id: int) -> Response:
        resolve_store(request)
        issue = reward_issue_get(company=request.user.company, issue_id=transaction_id)
        if issue is None:
            raise ApplicationError("No such reward transaction", type="not_found", status=404)
        return Response(
            {"status": status_block(LoyaltyCode.OK, "Reward fetched"), "reward": issue.response}
        )


class RewardIssueFulfilmentApi(LoyaltyApi):
    """PUT or POST v1/user/rewards/{transactionId}/fulfillment {"status": "SHIPPED", ...}: set an
    issued reward's fulfilment status (one of the company's); other keys are kept as details."""

    class InputSerializer(serializers.Serializer):
        status = IdentifierField(max_length=50)

    @extend_schema(
        request=InputSerializer,
        parameters=[CUSTOMER_QUERY[0]],
        responses={200: RewardIssueDetailOutputSerializer, **ERRORS},
        tags=["loyalty"],
    )
    def put(self, request: Request, transaction_id: int) -> Response:
        data = validated(self.InputSerializer, request)
        resolve_store(request)
        issue = reward_issue_fulfilment_set(
            company=request.user.company,
            issue_id=transaction_id,
            status=data["status"],
            # Kept in the stored answer (jsonb): checked as the issue call's details are.
            details=JsonObjectField().run_validation(dict(request.data)),
        )
        return Response(
            {
                "status": status_block(LoyaltyCode.OK, "Fulfilment status updated"),
                "reward": issue.response,
            }
        )

    @extend_schema(
        request=InputSerializer,
        parameters=[CUSTOMER_QUERY[0]],
        responses={200: RewardIssueDetailOutputSerializer, **ERRORS},
        tags=["loyalty"],
        operation_id="loyalty_reward_fulfillment_post",
    )
    def post(self, request: Request, transaction_id: int) -> Response:
        return self.put(request, transaction_id)
