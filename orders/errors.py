"""The error types the orders app answers with (the envelope's `type`), in one place so clients,
docs and tests share the names."""

from __future__ import annotations

from enum import StrEnum


class OrderErrorType(StrEnum):
    VALIDATION_ERROR = "validation_error"  # 422: well-typed but invalid, `errors` names the field
    OUT_OF_STOCK = "out_of_stock"  # 422: a reward of the order is short; nothing was created
    DUPLICATE_ORDER_REFERENCE = "duplicate_order_reference"  # 422: reference already used
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"  # 422: same key, another request
    REQUEST_IN_PROGRESS = "request_in_progress"  # 409: the key's first request is still running
