from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.fields import PlainNumberField, plain_number
from config.api.views import CompanyApi

from .models import Reward, Sku
from .selectors import reward_list_for_company


def sku_text(sku: Sku) -> str:
    """One SKU on the wire: product name, then variant and pack size where set, tab-separated."""
    return "\t".join(part for part in (sku.product_name, sku.variant, sku.pack_size) if part)


class RewardListApi(CompanyApi):
    """The calling company's catalog, in the seed's shape."""

    class OutputSerializer(serializers.Serializer):
        # The seed's six fields first and in the seed's order; extras may only follow them.
        id = serializers.IntegerField()
        denomination_value = PlainNumberField(
            help_text='Value of the reward, a plain number string ("10", "12.5").'
        )
        status = serializers.IntegerField(help_text="1 = active, 0 = inactive.")
        qty_trigger_limit = PlainNumberField(help_text="Low-stock alert threshold.")
        qty = serializers.SerializerMethodField(
            help_text='Stock left. "0" with status 1 means unlimited.'
        )
        skus = serializers.SerializerMethodField(
            help_text="Each SKU's product name, variant and pack size joined by a tab; "
            "SKUs joined by a newline."
        )
        brand = serializers.CharField(source="brand.name")
        sku_list = serializers.SerializerMethodField()

        @extend_schema_field(OpenApiTypes.STR)
        def get_qty(self, reward: Reward) -> str:
            return plain_number(reward.qty)

        @extend_schema_field(OpenApiTypes.STR)
        def get_skus(self, reward: Reward) -> str:
            return "\n".join(sku_text(sku) for sku in reward.sku_rows)

        @extend_schema_field(
            {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "code": {"type": "string"},
                        "product_name": {"type": "string"},
                        "variant": {"type": "string"},
                        "pack_size": {"type": "string"},
                    },
                    "required": ["code", "product_name", "variant", "pack_size"],
                },
            }
        )
        def get_sku_list(self, reward: Reward) -> list[dict[str, str]]:
            return [
                {
                    "code": sku.code,
                    "product_name": sku.product_name,
                    "variant": sku.variant,
                    "pack_size": sku.pack_size,
                }
                for sku in reward.sku_rows
            ]

    @extend_schema(
        responses={200: OutputSerializer(many=True)},
        tags=["catalog"],
        summary="List the company's rewards",
        description=(
            "Every reward of the calling company, active or not, ordered by id. The first six "
            "fields are exactly the seed's (`id`, `denomination_value`, `status`, "
            "`qty_trigger_limit`, `qty`, `skus`); `brand` and `sku_list` follow them."
        ),
        examples=[
            OpenApiExample(
                "Seed example",
                value=[
                    {
                        "id": 1,
                        "denomination_value": "10",
                        "status": 1,
                        "qty_trigger_limit": "0",
                        "qty": "0",
                        "skus": "BIGCITY Seeds\t1200",
                        "brand": "BIGCITY",
                        "sku_list": [
                            {
                                "code": "BIGCITY Seeds",
                                "product_name": "BIGCITY Seeds",
                                "variant": "",
                                "pack_size": "1200",
                            }
                        ],
                    }
                ],
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        rewards = reward_list_for_company(company=request.user.company)
        return Response(self.OutputSerializer(rewards, many=True).data)
