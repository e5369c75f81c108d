"""Serializer fields that insist on the JSON type, so a wrong type is a 400 and not a 422."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

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


class StrictBooleanField(_StrictType, serializers.BooleanField):
    json_types = (bool,)
    json_type_name = "boolean"

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            raise serializers.ValidationError("Must be a JSON boolean.", code="wrong_type")
        return data


class StrictListField(_StrictType, serializers.ListField):
    json_types = (list,)
    json_type_name = "array"
