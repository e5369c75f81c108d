from __future__ import annotations

import base64

import pytest

from companies.models import Company
from companies.services import company_secret_revoke
from loyalty import services
from tests.factories import CustomerFactory, StoreFactory

pytestmark = pytest.mark.django_db

POINTS = "/api_gateway/rewards/core/v1/user/points"
LEDGER = "/api_gateway/rewards/core/v1/user/points/ledger"


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.fixture
def store(tenant):
    return StoreFactory(company=tenant.company, code="till-1")


@pytest.fixture
def loyalty_api(api, tenant, store):
    api.credentials(HTTP_AUTHORIZATION=basic(tenant.company.client_id, tenant.plain_secret))
    return api


def assert_status(response, http: int, code: int) -> dict:
    assert response.status_code == http, response.content
    body = response.json()
    assert body["status"]["code"] == code
    assert body["status"]["success"] is (http < 300)
    return body


def test_balance_with_basic_auth(loyalty_api, customer):
    services.points_earn(customer=customer, points=120, reason="order")
    body = assert_status(
        loyalty_api.get(POINTS, {"mobile": customer.mobile, "username": "till-1"}), 200, 200
    )
    assert body["points"] == {"balance": 120, "held": 0, "available": 120}


def test_balance_with_a_company_bearer_token(api, tenant, store, customer):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.token}")
    assert_status(api.get(POINTS, {"email": customer.email, "username": "till-1"}), 200, 200)


def test_unknown_customer_is_1014(loyalty_api):
    body = assert_status(
        loyalty_api.get(POINTS, {"mobile": "919999999999", "username": "till-1"}), 404, 1014
    )
    assert body["status"]["message"] == (
        "Cannot find customer for provided mobile/external-id/e-mail/id"
    )


def test_another_companys_customer_is_1014(loyalty_api, other_tenant):
    foreign = CustomerFactory(company=other_tenant.company)
    assert_status(
        loyalty_api.get(POINTS, {"mobile": foreign.mobile, "username": "till-1"}), 404, 1014
    )


def test_unknown_or_missing_store_is_refused(loyalty_api, customer, other_tenant):
    StoreFactory(company=other_tenant.company, code="foreign-till")
    assert_status(loyalty_api.get(POINTS, {"mobile": customer.mobile}), 400, 1002)
    assert_status(
        loyalty_api.get(POINTS, {"mobile": customer.mobile, "username": "foreign-till"}), 400, 1002
    )


def test_missing_identifier_is_a_bad_request(loyalty_api):
    assert_status(loyalty_api.get(POINTS, {"username": "till-1"}), 400, 1001)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Basic !!!not-base64",
        basic("wrong-client", "x"),
    ],
)
def test_bad_credentials_are_401_in_the_loyalty_envelope(api, store, header):
    if header:
        api.credentials(HTTP_AUTHORIZATION=header)
    assert_status(api.get(POINTS, {"mobile": "1234567890", "username": "till-1"}), 401, 1004)


def test_secret_of_another_company_is_refused(api, tenant, other_tenant, store):
    api.credentials(HTTP_AUTHORIZATION=basic(tenant.company.client_id, other_tenant.plain_secret))
    assert_status(api.get(POINTS, {"mobile": "1234567890", "username": "till-1"}), 401, 1004)


def test_revoked_secret_and_suspended_company(loyalty_api, tenant, customer):
    Company.objects.filter(pk=tenant.company.pk).update(status=Company.Status.SUSPENDED)
    assert_status(
        loyalty_api.get(POINTS, {"mobile": customer.mobile, "username": "till-1"}), 403, 1005
    )
    Company.objects.filter(pk=tenant.company.pk).update(status=Company.Status.ACTIVE)
    company_secret_revoke(secret=tenant.secret)
    assert_status(
        loyalty_api.get(POINTS, {"mobile": customer.mobile, "username": "till-1"}), 401, 1004
    )


def test_customer_token_is_refused(api, tenant, store, customer):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.customer_token(customer)}")
    assert_status(api.get(POINTS, {"mobile": customer.mobile, "username": "till-1"}), 401, 1004)


def test_unknown_path_is_a_loyalty_404(loyalty_api):
    response = loyalty_api.get("/api_gateway/rewards/core/v9/nothing")
    assert response.status_code == 404
    assert response.json()["status"]["success"] is False


def test_ledger_is_paginated_newest_first(loyalty_api, customer):
    for n in range(1, 13):
        services.points_earn(customer=customer, points=n, reason="order", reference=f"ord_{n}")
    query = {"mobile": customer.mobile, "username": "till-1", "limit": 5}
    first = assert_status(loyalty_api.get(LEDGER, query), 200, 200)
    assert first["pagination"] == {"limit": 5, "page": 0, "total": 12}
    assert [e["reference"] for e in first["entries"]] == [f"ord_{n}" for n in range(12, 7, -1)]
    last = assert_status(loyalty_api.get(LEDGER, {**query, "page": 2}), 200, 200)
    assert [e["points"] for e in last["entries"]] == [2, 1]
    assert last["entries"][-1]["balanceAfter"] == 1
    assert_status(loyalty_api.get(LEDGER, {**query, "limit": 1000}), 400, 1001)
    assert_status(loyalty_api.get(LEDGER, {**query, "page": "x"}), 400, 1001)
