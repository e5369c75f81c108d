from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client


@pytest.fixture
def staff_user(db) -> Any:
    return get_user_model().objects.create_superuser("pm", "pm@example.com", "pw-not-used")


@pytest.fixture
def admin_client_logged_in(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


def catalog_row(key: str, **overrides: Any) -> dict[str, Any]:
    """A valid catalog-import row; override any field."""
    row: dict[str, Any] = {
        "key": key,
        "brand": "BIGCITY",
        "name": f"Reward {key}",
        "denomination_value": "10",
        "status": 1,
        "qty": None,
        "qty_trigger_limit": 0,
        "points_cost": None,
        "fulfilment": "generated",
        "skus": [{"code": f"{key} sku", "product_name": f"{key} product"}],
    }
    row.update(overrides)
    return row
