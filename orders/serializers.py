"""The wire shape of an order, shared by three places that must agree byte for byte: the 201 of
the redemption call, the answer stored for an Idempotency-Key replay (rendered by the service,
inside its transaction), and order history. Views keep their own nested InputSerializers."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from config.api.fields import PlainNumberField


class LineItemOutputSerializer(serializers.Serializer):
    sku = serializers.CharField()
    quantity = serializers.IntegerField()
    price = PlainNumberField()
    reward_id = serializers.IntegerField(allow_null=True)


class VoucherOutputSerializer(serializers.Serializer):
    code = serializers.CharField(allow_null=True, help_text="null while a vendor is pending.")
    reward_id = serializers.IntegerField()
    denomination_value = PlainNumberField()
    sku = serializers.CharField(source="line_item.sku", allow_null=True)
    status = serializers.CharField()
    valid_till = serializers.DateField(allow_null=True)


class OrderOutputSerializer(serializers.Serializer):
    """Needs `line_items` and `vouchers` (with `line_item`) prefetched: see
    orders.selectors.orders_with_details."""

    order_id = serializers.CharField(source="public_id")
    status = serializers.CharField()
    order_timestamp = serializers.DateTimeField()
    order_total = PlainNumberField()
    order_items = serializers.IntegerField()
    points_earned = serializers.IntegerField()
    line_items = LineItemOutputSerializer(many=True)
    vouchers = VoucherOutputSerializer(many=True)


class OrderPageSerializer(serializers.Serializer):
    """Documentation only: the paginated envelope of GET /v1/orders."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = OrderOutputSerializer(many=True)


def order_wire(order: Any) -> dict[str, Any]:
    """The order as a plain JSON-ready dict (what is stored for replays)."""
    return dict(OrderOutputSerializer(order).data)
