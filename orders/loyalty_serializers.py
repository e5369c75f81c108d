"""Wire shapes of the Loyalty API's reward calls (seeds 002 and 003). camelCase lives here only.

The issue call's per-reward answer is rendered by the service inside its transaction and stored
on the RewardIssue (`response`), so that a `requestId` replay, the first answer and a later read
are the same document; `reward_issue_wire` builds it. The reward's catalog fields (seed 002) are
a serializer, used by the vouchers-by-brand read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from config.api.loyalty import status_block
from rewards.models import Reward

from .models import RewardIssue, Voucher

WIRE_DATETIME = "%Y-%m-%d %H:%M:%S"


def wire_number(value: Decimal | int | None) -> int | float | None:
    """A quantity or ratio as a JSON number: an integer when whole (1, not 1.0)."""
    if value is None:
        return None
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def voucher_expiry(valid_till: dt.date | None) -> str | None:
    """A voucher is valid through the whole of its last day."""
    if valid_till is None:
        return None
    return f"{valid_till.isoformat()} 23:59:59"


def vendor_entries(*, reward: Reward, vouchers: Sequence[Voucher]) -> list[dict[str, Any]]:
    """The seed's `vendor` list: one entry per voucher of the reward issued (whatever made its
    code), `voucher` null while its vendor has not answered."""
    return [
        {
            "voucher": v.code,
            "valid_till": v.valid_till.isoformat() if v.valid_till else None,
            "pointsRedeemed": str(v.points_spent),
            "offer_name": reward.name,
            "coupon_series_id": reward.vendor_product_code or str(reward.pk),
            "status": v.status,
        }
        for v in vouchers
    ]


def payment_config_wire(reward: Reward | None) -> dict[str, Any] | None:
    """A reward has one payment config; its id is the reward's id."""
    if reward is None:
        return None
    return {
        "paymentMode": reward.payment_mode,
        "id": reward.pk,
        "conversionRatio": wire_number(reward.conversion_ratio),
    }


def redemption_details_wire(reward: Reward | None, quantity: int) -> dict[str, Any] | None:
    if reward is None:
        return None
    default = "VALUE" if reward.payment_mode == Reward.PaymentMode.CONV_RATIO else "QUANTITY"
    custom = reward.custom_fields if isinstance(reward.custom_fields, dict) else {}
    return {
        "redemptionType": str(custom.get("redemptionType") or default),
        "totalRedemptionValue": quantity,
    }


def fulfilment_wire(issue: RewardIssue, details: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the caller sent as fulfillmentDetails, with the current status and when it was set."""
    if not details and issue.fulfilment_status_id is None:
        return None
    wire = dict(details or {})
    if issue.fulfilment_status_id is not None:
        wire["status"] = issue.fulfilment_status.name
        wire["updatedAt"] = (
            timezone.localtime(issue.fulfilment_updated_at).strftime(WIRE_DATETIME)
            if issue.fulfilment_updated_at
            else None
        )
    return wire


def reward_issue_wire(
    *,
    issue: RewardIssue,
    reward_id: int,
    org_id: int,
    reward: Reward | None,
    vouchers: Sequence[Voucher],
    points_refs: Sequence[str],
    fulfilment_details: dict[str, Any] | None,
) -> dict[str, Any]:
    """One reward's answer of the issue call, shaped as in seed 003."""
    success = issue.status != RewardIssue.Status.FAILED
    return {
        "status": status_block(issue.result_code, issue.message, success=success),
        "orgId": org_id,
        "transactionId": issue.pk,
        "rewardId": reward_id,
        "requestedQuantity": wire_number(issue.requested_quantity),
        "quantity": issue.quantity,
        "pointsRedeemed": issue.points,
        "pointsReferenceId": points_refs[0] if points_refs else None,
        "pointsReferenceIds": list(points_refs),
        "eventLogId": issue.event_log_id or None,
        "requestId": issue.request_id,
        "transactionNumber": issue.transaction_number or None,
        "intouch": None,
        "promotions": [],
        "vendor": vendor_entries(reward=reward, vouchers=vouchers) if reward else [],
        "restrictions": None,
        "paymentConfig": payment_config_wire(reward),
        "fulfillmentDetails": fulfilment_wire(issue, fulfilment_details),
        "customFields": issue.custom_fields or None,
        "redemptionDetails": redemption_details_wire(reward, issue.quantity),
        "groupLoyaltyRedemption": issue.group_id is not None,
        "groupId": issue.group_id,
    }


# --- Vouchers by brand (seed 002's reward fields, plus the voucher) ----------------------------


def _blank_to_none(value: str) -> str | None:
    return value or None


class LoyaltyRewardSerializer(serializers.Serializer):
    """A reward's catalog fields named as in seed 002. Needs `context["now"]` and, for
    `restrictions`, `context["customer"]`."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    imageId = serializers.SerializerMethodField()
    imageUrl = serializers.SerializerMethodField()
    thumbnailId = serializers.SerializerMethodField()
    thumbnailUrl = serializers.SerializerMethodField()
    termAndConditionsId = serializers.SerializerMethodField()
    termAndConditionsUrl = serializers.SerializerMethodField()
    tier = serializers.SerializerMethodField()
    label = serializers.SerializerMethodField()
    priority = serializers.IntegerField()
    intouchPoints = serializers.IntegerField(source="points_cost", allow_null=True)
    group = serializers.SerializerMethodField()
    startTime = serializers.DateTimeField(source="starts_at", format=WIRE_DATETIME, allow_null=True)
    endTime = serializers.DateTimeField(source="ends_at", format=WIRE_DATETIME, allow_null=True)
    expired = serializers.SerializerMethodField()
    started = serializers.SerializerMethodField()
    programId = serializers.IntegerField(source="program_id", allow_null=True)
    categoryList = serializers.JSONField(source="categories")
    customFields = serializers.JSONField(source="custom_fields")
    loyaltyProgramCriteria = serializers.SerializerMethodField()
    restrictions = serializers.SerializerMethodField()
    appliedPromotions = serializers.SerializerMethodField()
    groupName = serializers.SerializerMethodField()
    groupRank = serializers.IntegerField(source="group_rank", allow_null=True)
    rewardRank = serializers.IntegerField(source="reward_rank", allow_null=True)
    images = serializers.SerializerMethodField()
    videos = serializers.SerializerMethodField()

    def get_imageId(self, reward: Reward) -> str | None:
        return _blank_to_none(reward.image_id)

    def get_imageUrl(self, reward: Reward) -> str | None:
        return _blank_to_none(reward.image_url)

    def get_thumbnailId(self, reward: Reward) -> str | None:
        return _blank_to_none(reward.thumbnail_id)

    def get_thumbnailUrl(self, reward: Reward) -> str | None:
        return _blank_to_none(reward.thumbnail_url)

    def get_termAndConditionsId(self, reward: Reward) -> str | None:
        return _blank_to_none(reward.terms_id)

    def get_termAndConditionsUrl(self, reward: Reward) -> str | None:
        return _blank_to_none(reward.terms_url)

    def get_tier(self, reward: Reward) -> str | None:
        return _blank_to_none(reward.tier)

    def get_label(self, reward: Reward) -> str | None:
        return _blank_to_none(reward.label)

    def get_group(self, reward: Reward) -> str | None:
        return _blank_to_none(reward.group)

    def get_groupName(self, reward: Reward) -> str | None:
        return _blank_to_none(reward.group_name)

    def get_expired(self, reward: Reward) -> bool:
        return reward.ends_at is not None and reward.ends_at <= self.context["now"]

    def get_started(self, reward: Reward) -> bool:
        return reward.starts_at is None or reward.starts_at <= self.context["now"]

    def get_restrictions(self, reward: Reward) -> dict[str, bool]:
        """isValid: the customer could get this reward now (active, in its window and segment)."""
        from loyalty.pricing import Refusal, reward_refusal

        try:
            reward_refusal(
                reward=reward, customer=self.context["customer"], now=self.context["now"]
            )
        except Refusal:
            return {"isValid": False}
        return {"isValid": True}

    def get_loyaltyProgramCriteria(self, reward: Reward) -> list[Any]:
        return []

    def get_appliedPromotions(self, reward: Reward) -> list[Any]:
        return []

    def get_images(self, reward: Reward) -> list[Any]:
        return []

    def get_videos(self, reward: Reward) -> list[Any]:
        return []


class BrandVoucherSerializer(serializers.Serializer):
    """One voucher of the vouchers-by-brand read: its reward's seed-002 fields at the top level,
    then the voucher's own. Needs the reward (and its vendor) joined."""

    def to_representation(self, voucher: Voucher) -> dict[str, Any]:
        wire = LoyaltyRewardSerializer(voucher.reward, context=self.context).data
        wire.update(
            {
                "voucherId": voucher.pk,
                "couponCode": voucher.code,
                "codeExpiry": voucher_expiry(voucher.valid_till),
                "issuedAt": timezone.localtime(voucher.issued_at or voucher.created_at).strftime(
                    WIRE_DATETIME
                ),
                "transactionId": voucher.issue_id,
                "orderId": voucher.order.public_id if voucher.order_id else None,
                "voucherStatus": voucher.status,
                "pointsRedeemed": voucher.points_spent,
            }
        )
        return wire


# --- Schemas of the answers (OpenAPI), matching what the functions above render -----------------


class LoyaltyStatusSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    code = serializers.IntegerField()
    message = serializers.CharField()


class PaginationSerializer(serializers.Serializer):
    limit = serializers.IntegerField()
    page = serializers.IntegerField()
    total = serializers.IntegerField()


class BrandVoucherSchemaSerializer(LoyaltyRewardSerializer):
    voucherId = serializers.IntegerField()
    couponCode = serializers.CharField(allow_null=True)
    codeExpiry = serializers.CharField(allow_null=True, help_text="YYYY-MM-DD HH:MM:SS")
    issuedAt = serializers.CharField(help_text="YYYY-MM-DD HH:MM:SS")
    transactionId = serializers.IntegerField(allow_null=True)
    orderId = serializers.CharField(allow_null=True)
    voucherStatus = serializers.CharField()
    pointsRedeemed = serializers.IntegerField()


class VouchersByBrandOutputSerializer(serializers.Serializer):
    status = LoyaltyStatusSerializer()
    rewards = BrandVoucherSchemaSerializer(many=True)
    pagination = PaginationSerializer()


class VendorEntrySerializer(serializers.Serializer):
    voucher = serializers.CharField(allow_null=True)
    valid_till = serializers.DateField(allow_null=True)
    pointsRedeemed = serializers.CharField()
    offer_name = serializers.CharField()
    coupon_series_id = serializers.CharField()
    status = serializers.CharField()


class RewardIssueAnswerSerializer(serializers.Serializer):
    status = LoyaltyStatusSerializer()
    orgId = serializers.IntegerField()
    transactionId = serializers.IntegerField(allow_null=True)
    rewardId = serializers.IntegerField()
    requestedQuantity = serializers.FloatField()
    quantity = serializers.IntegerField()
    pointsRedeemed = serializers.IntegerField()
    pointsReferenceId = serializers.CharField(allow_null=True)
    pointsReferenceIds = serializers.ListField(child=serializers.CharField())
    eventLogId = serializers.CharField(allow_null=True)
    requestId = serializers.CharField(allow_null=True)
    transactionNumber = serializers.CharField(allow_null=True)
    intouch = serializers.JSONField(allow_null=True)
    promotions = serializers.ListField(child=serializers.JSONField())
    vendor = VendorEntrySerializer(many=True)
    restrictions = serializers.JSONField(allow_null=True)
    paymentConfig = serializers.JSONField(allow_null=True)
    fulfillmentDetails = serializers.JSONField(allow_null=True)
    customFields = serializers.JSONField(allow_null=True)
    redemptionDetails = serializers.JSONField(allow_null=True)
    groupLoyaltyRedemption = serializers.BooleanField()
    groupId = serializers.IntegerField(allow_null=True)


class RewardIssueOutputSerializer(serializers.Serializer):
    status = LoyaltyStatusSerializer()
    rewards = RewardIssueAnswerSerializer(many=True)


class RewardIssueDetailOutputSerializer(serializers.Serializer):
    status = LoyaltyStatusSerializer()
    reward = RewardIssueAnswerSerializer()


class LoyaltyErrorSerializer(serializers.Serializer):
    status = LoyaltyStatusSerializer()
    errors = serializers.DictField(child=serializers.ListField(), required=False)
