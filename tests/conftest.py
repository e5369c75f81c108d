from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from companies.models import Company, CompanySecret
from companies.services import company_secret_issue
from config.api.auth import company_token_for, customer_token_for
from customers.models import Customer
from tests.factories import CompanyFactory, CustomerFactory


@pytest.fixture(autouse=True)
def _clear_cache():
    # Rate-limit counters live in the (real, shared) Redis cache: start every test from zero.
    cache.clear()
    yield
    cache.clear()


@dataclass
class Tenant:
    company: Company
    secret: CompanySecret
    plain_secret: str

    @property
    def token(self) -> str:
        return str(company_token_for(self.secret))

    def customer_token(self, customer: Customer) -> str:
        return str(customer_token_for(customer, secret_id=self.secret.pk))


def make_tenant(**kwargs) -> Tenant:
    company = CompanyFactory(**kwargs)
    secret, plain = company_secret_issue(company=company)
    return Tenant(company=company, secret=secret, plain_secret=plain)


@pytest.fixture
def tenant(db) -> Tenant:
    return make_tenant()


@pytest.fixture
def other_tenant(db) -> Tenant:
    return make_tenant()


@pytest.fixture
def customer(tenant) -> Customer:
    return CustomerFactory(company=tenant.company)


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def company_api(tenant) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.token}")
    return client


@pytest.fixture
def customer_api(tenant, customer) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.customer_token(customer)}")
    return client


def assert_envelope(response, status: int, type_: str | None = None) -> dict:
    """Every non-2xx answer of the Partner API is the documented envelope."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert {"name", "message", "code", "status", "type"} <= body.keys()
    assert body["status"] == status and body["code"] == 0
    if type_ is not None:
        assert body["type"] == type_, body
    return body
