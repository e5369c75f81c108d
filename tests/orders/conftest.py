from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from rewards.models import Reward
from tests.factories import reward_with_sku

URL = "/v1/bigcity/redeemptiononskus"
ALIAS_URL = "/v1/bigcity/redemptiononskus"

# The contract's example request.
EXAMPLE_BODY: dict[str, Any] = {
    "order_timestamp": "2025-10-13T15:42:36-04:00",
    "order_total": 1500,
    "order_items": 3,
    "order_reference": "POS-778812",
    "line_items": [
        {"sku": "BIGCITY Seeds", "quantity": 2, "price": 500},
        {"sku": "BIGCITY Oats - All Variants", "quantity": 1, "price": 500},
    ],
}


def order_body(*lines: tuple[str, int, int | str], **extra: Any) -> dict[str, Any]:
    """A consistent body for the given (sku, quantity, price) lines."""
    line_items = [{"sku": s, "quantity": q, "price": p} for s, q, p in lines]
    total = sum((Decimal(str(p)) * q for _, q, p in lines), Decimal(0))
    body = {
        "order_timestamp": "2025-10-13T15:42:36-04:00",
        "order_total": int(total) if total == int(total) else str(total),
        "order_items": sum(q for _, q, _ in lines),
        "line_items": line_items,
    }
    body.update(extra)
    return body


@dataclass
class Catalog:
    seeds: Reward
    oats: Reward


@pytest.fixture
def catalog(tenant) -> Catalog:
    """Two of the seed's rewards, unlimited stock, generated codes."""
    return Catalog(
        seeds=reward_with_sku(tenant.company, "BIGCITY Seeds", denomination_value=Decimal("10")),
        oats=reward_with_sku(
            tenant.company, "BIGCITY Oats - All Variants", denomination_value=Decimal("30")
        ),
    )


def client_for(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def redeem(client: APIClient, body: Any, key: str | None = None, url: str = URL):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(url, body, format="json", **headers)


def run_concurrently(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call in its own thread, released together by a barrier. Each thread has its own
    database connection (Django's are per thread) and closes it at the end."""
    barrier = threading.Barrier(len(calls))

    def worker(call: Callable[[], Any]) -> Any:
        try:
            barrier.wait(timeout=60)
            return call()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(worker, calls))
