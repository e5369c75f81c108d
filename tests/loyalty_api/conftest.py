from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from loyalty import services as points
from tests.factories import BrandFactory, CustomerFactory, RewardFactory, StoreFactory

BASE = "/api_gateway/rewards/core"
ISSUE = f"{BASE}/v1.1/user/rewards/issue/"
IS_REDEEMABLE = f"{BASE}/v1/user/rewards/isRedeemable"
VALIDATION_CODE = f"{BASE}/v1/user/rewards/validationCode"
STORE = "till-1"


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def loyalty_client(tenant) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic(tenant.company.client_id, tenant.plain_secret))
    return client


def vouchers_url(brand: str) -> str:
    return f"{BASE}/v1/user/vouchers/brand/{brand}"


def assert_loyalty(response, http: int, code: int) -> dict:
    """A Loyalty API answer: the HTTP status and the seed envelope's numeric code."""
    assert response.status_code == http, response.content
    body = response.json()
    assert body["status"]["code"] == code, body
    return body


def issue_body(customer, *rewards: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"mobile": customer.mobile, "rewards": list(rewards), **extra}


def issue(client: APIClient, body: Any, *, skip: bool = True, headers: dict | None = None):
    query = f"?username={STORE}" + ("&skip_validation=true" if skip else "")
    return client.post(ISSUE + query, body, format="json", **(headers or {}))


@pytest.fixture
def store(tenant):
    return StoreFactory(company=tenant.company, code=STORE)


@pytest.fixture
def client(tenant, store) -> APIClient:
    return loyalty_client(tenant)


@pytest.fixture
def brand(tenant):
    return BrandFactory(company=tenant.company, name="BUKL")


@pytest.fixture
def make_reward(tenant, brand) -> Callable[..., Any]:
    """A points reward of the tenant (100 points, unlimited, generated codes) unless told."""

    def make(**fields: Any):
        fields.setdefault("company", tenant.company)
        fields.setdefault("brand", brand if fields["company"] == tenant.company else None)
        if fields["brand"] is None:
            fields["brand"] = BrandFactory(company=fields["company"])
        fields.setdefault("points_cost", 100)
        return RewardFactory(**fields)

    return make


@pytest.fixture
def member(tenant):
    """A customer of the tenant with 1,000 points."""
    customer = CustomerFactory(company=tenant.company, segments=["gold"])
    points.points_earn(customer=customer, points=1000, reason="seed", reference="seed")
    customer.refresh_from_db()
    return customer


def run_concurrently(calls: list[Callable[[], Any]]) -> list[Any]:
    """Each call in its own thread and database connection, released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def worker(call: Callable[[], Any]) -> Any:
        try:
            barrier.wait(timeout=60)
            return call()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(worker, calls))
