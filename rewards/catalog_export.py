"""Export a company's catalog in the `import_catalog` format (docs/catalog.md), with
django-import-export: the back-office's "Export catalog" writes a JSON file that
`import_catalog` (and the back-office's "Import catalog") accepts as it is.

Only the fields of the import format are exported (not the vendor, nor the loyalty-catalog
fields, which the import does not set). Values keep their JSON types: numbers stay numbers,
`null` stays `null`, dates are ISO 8601, and `skus` is a list of objects.
"""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Prefetch, QuerySet
from import_export import fields, resources, widgets

from .catalog_import import OPTIONAL_FIELDS, REQUIRED_FIELDS
from .models import Reward, Sku

EXPORT_FIELDS = (*REQUIRED_FIELDS, *OPTIONAL_FIELDS)


class NativeWidget(widgets.Widget):
    """Renders the value as it is (django-import-export renders strings by default), so the
    JSON keeps the types the import expects."""

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> Any:
        return value


def _native(name: str) -> fields.Field:
    return fields.Field(attribute=name, column_name=name, widget=NativeWidget())


class CatalogResource(resources.ModelResource):
    key = _native("key")
    brand = fields.Field(column_name="brand")
    name = _native("name")
    denomination_value = fields.Field(column_name="denomination_value")
    status = _native("status")
    qty = _native("qty")
    qty_trigger_limit = _native("qty_trigger_limit")
    points_cost = _native("points_cost")
    fulfilment = _native("fulfilment")
    skus = fields.Field(column_name="skus")
    description = _native("description")
    validity_days = _native("validity_days")
    valid_until = fields.Field(column_name="valid_until")
    starts_at = fields.Field(column_name="starts_at")
    ends_at = fields.Field(column_name="ends_at")
    vendor_product_code = _native("vendor_product_code")

    class Meta:
        model = Reward
        fields = EXPORT_FIELDS
        export_order = EXPORT_FIELDS

    def dehydrate_brand(self, reward: Reward) -> str:
        return reward.brand.name

    def dehydrate_denomination_value(self, reward: Reward) -> str:
        # A string, as Decimal has no exact JSON number; the import takes numeric strings.
        return format(reward.denomination_value, "f")

    def dehydrate_skus(self, reward: Reward) -> list[dict[str, str]]:
        return [
            {
                "code": sku.code,
                "product_name": sku.product_name,
                "variant": sku.variant,
                "pack_size": sku.pack_size,
            }
            for sku in reward.skus.all()  # prefetched, by id (catalog_queryset)
        ]

    def dehydrate_valid_until(self, reward: Reward) -> str | None:
        return reward.valid_until.isoformat() if reward.valid_until else None

    def dehydrate_starts_at(self, reward: Reward) -> str | None:
        return reward.starts_at.isoformat() if reward.starts_at else None

    def dehydrate_ends_at(self, reward: Reward) -> str | None:
        return reward.ends_at.isoformat() if reward.ends_at else None


def catalog_queryset(rewards: QuerySet[Reward]) -> QuerySet[Reward]:
    """Two queries for any number of rewards: the rewards with their brand, and their SKUs."""
    return (
        rewards.select_related("brand")
        .prefetch_related(Prefetch("skus", queryset=Sku.objects.order_by("id")))
        .order_by("id")
    )


def catalog_export_rows(*, rewards: QuerySet[Reward]) -> list[dict[str, Any]]:
    dataset = CatalogResource().export(queryset=catalog_queryset(rewards))
    return [dict(row) for row in dataset.dict]


def catalog_export_json(*, rewards: QuerySet[Reward]) -> str:
    return json.dumps(catalog_export_rows(rewards=rewards), indent=2, ensure_ascii=False) + "\n"
