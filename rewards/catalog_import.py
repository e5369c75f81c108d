"""Load a company's catalog from a list of rows (a JSON array of objects), by `key`.

Every row is validated first, the file as a whole second (duplicate keys, SKU codes used twice
or already taken by a reward the file does not touch); only a clean file is written, in one
transaction, so a bad file leaves the catalog exactly as it was.

Rows are numbered by their index in the array (the first row is row 0), as a JSON editor shows.
A field that may be left out and is left out keeps its current value on update.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, transaction
from rest_framework import serializers

from companies.models import Company
from config.api.errors import ApplicationError
from config.api.fields import (
    StrictCharField,
    StrictDecimalField,
    StrictIntegerField,
    StrictListField,
)

from .alerts import low_stock_check, low_stock_rearm
from .models import Brand, Reward, Sku, StockMovement
from .selectors import pool_codes_free_count, sku_codes_taken
from .services import (
    MAX_STOCK,
    reward_stock_rules,
    rewards_lock,
    stock_movement_initial,
)

IMPORT_NOTE = "catalog import"
# The seed's four BIGCITY rewards, loaded by `seed_demo`.
BIGCITY_DEMO_CATALOG = Path(__file__).parent / "fixtures" / "bigcity_demo_catalog.json"
MAX_ROWS = 50_000

# The reward fields a row may set besides stock and SKUs, and whether a row must carry them.
REQUIRED_FIELDS = (
    "key",
    "brand",
    "name",
    "denomination_value",
    "status",
    "qty",
    "qty_trigger_limit",
    "points_cost",
    "fulfilment",
    "skus",
)
OPTIONAL_FIELDS = (
    "description",
    "validity_days",
    "valid_until",
    "starts_at",
    "ends_at",
    "vendor_product_code",
)
# Written straight onto the reward (brand, qty and SKUs have their own handling).
REWARD_COLUMNS = (
    "name",
    "denomination_value",
    "status",
    "qty_trigger_limit",
    "points_cost",
    "fulfilment",
    *OPTIONAL_FIELDS,
)


class CatalogImportError(ApplicationError):
    """The file was refused; `row_errors` says why, one line per problem."""

    def __init__(self, row_errors: list[str]) -> None:
        super().__init__(
            f"The catalog has {len(row_errors)} error(s); nothing was loaded",
            type="catalog_invalid",
            errors={"rows": row_errors},
        )
        self.row_errors = row_errors


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.created)} created, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged"
        )


# GET /v1/bigcity/rewards renders a SKU as its fields joined by a tab and several SKUs joined
# by a newline: a SKU field holding either (or any other control character, or a Unicode line or
# paragraph separator, which many clients also split lines on) would corrupt that format.
SKU_TEXT_MESSAGE = "Must not contain a tab, a line break or another control character."


def sku_text_has_control_characters(value: str) -> bool:
    return any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in value)


def validate_sku_text(value: str | None) -> None:
    """Refuse a SKU field (code, product_name, variant, pack_size) that would corrupt the
    tab/newline rendering. Used by the catalog import and the admin's SKU inline."""
    if value and sku_text_has_control_characters(value):
        raise DjangoValidationError(SKU_TEXT_MESSAGE, code="control_characters")


class _SkuRow(serializers.Serializer):
    code = StrictCharField(max_length=200, validators=[validate_sku_text])
    product_name = StrictCharField(max_length=200, validators=[validate_sku_text])
    variant = StrictCharField(
        max_length=100,
        required=False,
        allow_blank=True,
        allow_null=True,
        validators=[validate_sku_text],
    )
    pack_size = StrictCharField(
        max_length=50,
        required=False,
        allow_blank=True,
        allow_null=True,
        validators=[validate_sku_text],
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value = _known_fields_only(self, data)
        value["variant"] = value.get("variant") or ""
        value["pack_size"] = value.get("pack_size") or ""
        return value


class _CatalogRow(serializers.Serializer):
    key = StrictCharField(max_length=100, validators=[validate_slug])
    brand = StrictCharField(max_length=200)
    name = StrictCharField(max_length=200)
    denomination_value = StrictDecimalField(max_digits=12, decimal_places=2, min_value=0)
    status = StrictIntegerField(min_value=0, max_value=1)
    qty = StrictIntegerField(allow_null=True, min_value=0, max_value=MAX_STOCK)
    qty_trigger_limit = StrictIntegerField(min_value=0, max_value=MAX_STOCK)
    points_cost = StrictIntegerField(allow_null=True, min_value=0, max_value=1_000_000_000)
    fulfilment = serializers.ChoiceField(choices=Reward.Fulfilment.choices)
    skus = StrictListField(child=_SkuRow(), allow_empty=True, max_length=1000)
    description = StrictCharField(required=False, allow_blank=True, max_length=10_000)
    validity_days = StrictIntegerField(
        required=False, allow_null=True, min_value=1, max_value=36_500
    )
    valid_until = serializers.DateField(required=False, allow_null=True, input_formats=["iso-8601"])
    starts_at = serializers.DateTimeField(required=False, allow_null=True)
    ends_at = serializers.DateTimeField(required=False, allow_null=True)
    vendor_product_code = StrictCharField(required=False, allow_blank=True, max_length=100)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        return _known_fields_only(self, data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        starts, ends = attrs.get("starts_at"), attrs.get("ends_at")
        if starts and ends and ends <= starts:
            raise serializers.ValidationError({"ends_at": ["Must be after starts_at"]})
        return attrs


def _known_fields_only(serializer: serializers.Serializer, data: Any) -> dict[str, Any]:
    """Validate like DRF, and also refuse fields it does not know: a typo ("qyt") must not pass
    silently as a field left out. Reported together with the row's other errors."""
    unknown = {}
    if isinstance(data, dict):
        unknown = {name: ["Unknown field"] for name in sorted(set(data) - set(serializer.fields))}
    try:
        value = serializers.Serializer.to_internal_value(serializer, data)
    except serializers.ValidationError as exc:
        if unknown and isinstance(exc.detail, dict):
            exc.detail.update(unknown)
        raise
    if unknown:
        raise serializers.ValidationError(unknown)
    return value


def _messages(row: int, detail: Any, path: str = "") -> list[str]:
    """DRF's nested error detail as flat lines: "row 3: skus[1].code: This field is required." """
    if isinstance(detail, dict):
        out: list[str] = []
        for name, value in detail.items():
            if name == "non_field_errors":
                child = path
            elif isinstance(name, int):  # ListField reports its items' errors by index
                child = f"{path}[{name}]"
            else:
                child = f"{path}.{name}" if path else str(name)
            out.extend(_messages(row, value, child))
        return out
    if isinstance(detail, list) and not all(isinstance(item, str) for item in detail):
        out = []
        for index, item in enumerate(detail):
            if item:
                out.extend(_messages(row, item, f"{path}[{index}]"))
        return out
    items = detail if isinstance(detail, list) else [detail]
    where = f"row {row}: {path}: " if path else f"row {row}: "
    return [f"{where}{item}" for item in items]


def catalog_validate(*, company: Company, rows: Any) -> list[dict[str, Any]]:
    """Validate the whole file; return the cleaned rows or raise CatalogImportError."""
    if not isinstance(rows, list):
        raise CatalogImportError(["the catalog must be a JSON array of objects"])
    if len(rows) > MAX_ROWS:
        raise CatalogImportError([f"the catalog has {len(rows)} rows; at most {MAX_ROWS}"])
    errors: list[str] = []
    cleaned: list[dict[str, Any] | None] = []
    for index, raw in enumerate(rows):
        if not isinstance(raw, dict):
            errors.append(f"row {index}: must be an object")
            cleaned.append(None)
            continue
        serializer = _CatalogRow(data=raw)
        if serializer.is_valid():
            cleaned.append(dict(serializer.validated_data))
        else:
            errors.extend(_messages(index, serializer.errors))
            cleaned.append(None)

    # Across rows: one row per key, one reward per SKU code.
    first_row_of_key: dict[str, int] = {}
    code_owner: dict[str, tuple[int, str]] = {}
    for index, row in enumerate(cleaned):
        if row is None:
            continue
        if row["key"] in first_row_of_key:
            errors.append(
                f"row {index}: key: {row['key']!r} is also row {first_row_of_key[row['key']]}"
            )
            continue
        first_row_of_key[row["key"]] = index
        for sku_index, sku in enumerate(row["skus"]):
            normalized = Sku.normalize(sku["code"])
            if normalized in code_owner:
                other_row, _ = code_owner[normalized]
                where = "this row" if other_row == index else f"row {other_row}"
                errors.append(
                    f"row {index}: skus[{sku_index}].code: {sku['code']!r} is also a SKU in {where}"
                )
            else:
                code_owner[normalized] = (index, row["key"])

    # Against the database: a code held by a reward this file does not describe stays there,
    # so the file cannot use it. (Rewards the file does describe get their SKUs replaced.)
    taken = sku_codes_taken(company=company, codes=code_owner, exclude_reward_keys=first_row_of_key)
    for normalized, owner_key in sorted(taken.items()):
        index, _ = code_owner[normalized]
        row = cleaned[index]
        assert row is not None
        sku_index = next(
            i for i, sku in enumerate(row["skus"]) if Sku.normalize(sku["code"]) == normalized
        )
        errors.append(
            f"row {index}: skus[{sku_index}].code: {row['skus'][sku_index]['code']!r} is already "
            f"a SKU of reward {owner_key!r}"
        )

    # Stock rules, with the pool codes already loaded for rewards that exist.
    existing = dict(
        Reward.objects.filter(company=company, key__in=list(first_row_of_key)).values_list(
            "key", "pk"
        )
    )
    free_codes = pool_codes_free_count(reward_ids=existing.values())
    for index, row in enumerate(cleaned):
        if row is None:
            continue
        rule_errors = reward_stock_rules(
            status=row["status"],
            qty=row["qty"],
            fulfilment=row["fulfilment"],
            free_pool_codes=free_codes.get(existing.get(row["key"], 0), 0),
        )
        errors.extend(f"row {index}: {name}: {msg}" for name, msg in rule_errors.items())

    if errors:
        raise CatalogImportError(_sorted_by_row(errors))
    return [row for row in cleaned if row is not None]


def _sorted_by_row(errors: list[str]) -> list[str]:
    def row_number(line: str) -> int:
        head = line.split(":", 1)[0]
        return int(head.removeprefix("row ")) if head.startswith("row ") else -1

    return sorted(errors, key=row_number)  # stable: a row's errors keep their order


def catalog_import(
    *, company: Company, rows: Any, actor: Any = None, dry_run: bool = False
) -> ImportResult:
    """Create or update the company's rewards from `rows`, by `key`, all or nothing.

    Stock set by the file is recorded like any other stock change: a new limited reward gets an
    initial restock movement, and a changed stock a restock (+) or adjustment (-) movement, all
    noted "catalog import". A reward's SKUs are replaced by the row's list when they differ.
    Nothing is written when nothing differs, so importing the same file twice changes nothing."""
    try:
        with transaction.atomic():
            cleaned = catalog_validate(company=company, rows=rows)
            result = _apply(company=company, rows=cleaned, actor=actor)
            if dry_run:
                transaction.set_rollback(True)
            return result
    except IntegrityError as exc:
        # Validation saw a consistent catalog; a concurrent edit changed it before the write.
        raise CatalogImportError([f"the catalog changed during the import; retry ({exc})"]) from exc


def _apply(*, company: Company, rows: list[dict[str, Any]], actor: Any) -> ImportResult:
    result = ImportResult()
    brands = _brands(company=company, names={row["brand"] for row in rows})
    existing_ids = list(
        Reward.objects.filter(company=company, key__in=[row["key"] for row in rows]).values_list(
            "pk", flat=True
        )
    )
    # Orders take stock under the same row locks, in the same (primary-key) order.
    locked = {reward.key: reward for reward in rewards_lock(reward_ids=existing_ids).values()}
    current_skus: dict[int, list[tuple[str, str, str, str]]] = {}
    for sku in Sku.objects.filter(reward_id__in=existing_ids).order_by("id"):
        current_skus.setdefault(sku.reward_id, []).append(_sku_tuple(sku))

    skus_to_create: list[Sku] = []
    rewards_to_clear: list[int] = []
    for row in rows:
        wanted_skus = [
            (s["code"], s["product_name"], s["variant"], s["pack_size"]) for s in row["skus"]
        ]
        reward = locked.get(row["key"])
        if reward is None:
            reward = Reward(
                company=company, key=row["key"], brand=brands[row["brand"]], qty=row["qty"]
            )
            for column in REWARD_COLUMNS:
                if column in row:
                    setattr(reward, column, row[column])
            reward.save()
            stock_movement_initial(reward=reward, note=IMPORT_NOTE, actor=actor)
            result.created.append(reward.key)
        else:
            changed = _update_reward(
                reward=reward, row=row, brand=brands[row["brand"]], actor=actor
            )
            if current_skus.get(reward.pk, []) != wanted_skus:
                rewards_to_clear.append(reward.pk)
                changed = True
            if not changed:
                result.unchanged.append(reward.key)
                continue
            result.updated.append(reward.key)
            if reward.pk not in rewards_to_clear:
                continue
        skus_to_create.extend(
            Sku(
                company=company,
                reward=reward,
                code=code,
                product_name=product_name,
                variant=variant,
                pack_size=pack_size,
            )
            for code, product_name, variant, pack_size in wanted_skus
        )
    # Every replaced list is deleted before any new SKU is written, so a code may move from
    # one reward to another within the file without tripping the per-company unique constraint.
    Sku.objects.filter(reward_id__in=rewards_to_clear).delete()
    Sku.objects.bulk_create(skus_to_create, batch_size=1000)
    return result


def _sku_tuple(sku: Sku) -> tuple[str, str, str, str]:
    return (sku.code, sku.product_name, sku.variant, sku.pack_size)


def _brands(*, company: Company, names: set[str]) -> dict[str, Brand]:
    brands = {b.name: b for b in Brand.objects.filter(company=company, name__in=names)}
    for name in sorted(names - brands.keys()):
        brands[name] = Brand.objects.create(company=company, name=name)
    return brands


def _update_reward(*, reward: Reward, row: dict[str, Any], brand: Brand, actor: Any) -> bool:
    """Write what the row changes on a locked reward; return whether anything changed."""
    changed_columns = [
        column
        for column in REWARD_COLUMNS
        if column in row and getattr(reward, column) != row[column]
    ]
    for column in changed_columns:
        setattr(reward, column, row[column])
    if reward.brand_id != brand.pk:
        reward.brand = brand
        changed_columns.append("brand")
    if "status" in changed_columns and reward.sold_out:
        reward.sold_out = False  # the file decided the status
        changed_columns.append("sold_out")
    old_qty, new_qty = reward.qty, row["qty"]
    if old_qty != new_qty:
        reward.qty = new_qty
        changed_columns.append("qty")
    if changed_columns:
        reward.save(update_fields=[*changed_columns, "updated_at"])
    if old_qty != new_qty:
        _record_stock_change(reward=reward, old_qty=old_qty, new_qty=new_qty, actor=actor)
        # As for any other stock change (the reward's row is locked, as these need): a restock
        # above the threshold re-arms the low-stock alert, a cut to or below it raises one.
        low_stock_rearm(reward=reward)
        low_stock_check(reward=reward)
    return bool(changed_columns)


def _record_stock_change(
    *, reward: Reward, old_qty: int | None, new_qty: int | None, actor: Any
) -> None:
    # The ledger covers limited stock: going unlimited books the old stock out (to 0), and
    # going limited books the new stock in from 0, so a limited reward's stock always equals
    # the sum of its movements.
    before = old_qty or 0
    after = new_qty or 0
    delta = after - before
    if delta == 0:
        return
    note = IMPORT_NOTE if new_qty is not None else f"{IMPORT_NOTE}: stock now unlimited"
    StockMovement.objects.create(
        reward=reward,
        delta=delta,
        qty_after=after,
        reason=StockMovement.Reason.RESTOCK if delta > 0 else StockMovement.Reason.ADJUSTMENT,
        note=note,
        actor=actor,
    )
