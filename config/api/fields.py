"""Serializer fields that insist on the JSON type, so a wrong type is a 400 and not a 422."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class _StrictType:
    json_types: tuple[type, ...] = ()
    json_type_name = ""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, self.json_types):
            raise serializers.ValidationError(
                f"Must be a JSON {self.json_type_name}.", code="wrong_type"
            )
        return super().to_internal_value(data)  # type: ignore[misc]


class StrictCharField(_StrictType, serializers.CharField):
    json_types = (str,)
    json_type_name = "string"


class StrictIntegerField(_StrictType, serializers.IntegerField):
    json_types = (int,)
    json_type_name = "integer"


class StrictDecimalField(_StrictType, serializers.DecimalField):
    """A JSON number, or a string holding one (money is often sent as a string)."""

    json_types = (int, float, str)
    json_type_name = "number"

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, float):
            # Go through repr so 12.5 stays 12.5 and not 12.4999999...
            data = repr(data)
        return super().to_internal_value(data)


class StrictListField(_StrictType, serializers.ListField):
    json_types = (list,)
    json_type_name = "array"


def plain_number(value: Decimal | int | None) -> str:
    """A number as the seeds write it: a plain string without exponent or trailing zeros
    ("1500", "12.5", "0"). None (unlimited stock) is "0", as the rewards seed says.
    Decimal.normalize() alone would turn 1500 into "1.5E+3"."""
    if value is None:
        return "0"
    if isinstance(value, int):
        return str(value)
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


@extend_schema_field({"type": "string", "pattern": r"^\d+(\.\d{1,2})?$", "example": "1500"})
class PlainNumberField(serializers.Field):
    """Money and counts on the wire, rendered by plain_number."""

    def to_representation(self, value: Decimal | int | None) -> str:
        return plain_number(value)
