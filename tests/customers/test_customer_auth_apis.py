from __future__ import annotations

import pytest

from config.api.auth import CustomerAccessToken
from customers.models import Customer
from tests.conftest import assert_envelope
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

URL = "/v1/customer/auth"
BODY = {
    "customer_name": "John Doe",
    "customer_mobile": "1234567890",
    "customer_email": "john@example.com",
}


def test_new_customer_is_created_with_201(company_api, tenant):
    response = company_api.post(URL, BODY, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 1800
    customer = Customer.objects.get(company=tenant.company, mobile="1234567890")
    assert body["customer"] == {
        "id": customer.pk,
        "name": "John Doe",
        "mobile": "1234567890",
        "email": "john@example.com",
        "external_id": None,
    }
    token = CustomerAccessToken(body["access_token"])
    assert token["sub"] == str(customer.pk) and token["cid"] == tenant.company.pk


def test_existing_customer_is_found_with_200_and_updated(company_api, tenant):
    company_api.post(URL, BODY, format="json")
    response = company_api.post(
        URL,
        {**BODY, "customer_name": "John Q. Doe", "customer_email": "jq@example.com"},
        format="json",
    )

    assert response.status_code == 200
    assert Customer.objects.filter(company=tenant.company).count() == 1
    customer = Customer.objects.get(company=tenant.company)
    assert (customer.name, customer.email) == ("John Q. Doe", "jq@example.com")


def test_email_and_external_id_are_optional(company_api):
    response = company_api.post(
        URL,
        {"customer_name": "A", "customer_mobile": "+441234567890", "external_id": "crm-1"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["customer"]["external_id"] == "crm-1"


@pytest.mark.parametrize("mobile", ["12345", "1234567890123456", "12345abcde", "++1234567890"])
def test_bad_mobile_is_422_naming_the_field(company_api, mobile):
    response = company_api.post(URL, {**BODY, "customer_mobile": mobile}, format="json")
    assert "customer_mobile" in assert_envelope(response, 422, "validation_error")["errors"]


def test_bad_email_is_422(company_api):
    response = company_api.post(URL, {**BODY, "customer_email": "not-an-email"}, format="json")
    assert "customer_email" in assert_envelope(response, 422, "validation_error")["errors"]


def test_mobile_as_a_number_is_a_type_error(company_api):
    response = company_api.post(URL, {**BODY, "customer_mobile": 1234567890}, format="json")
    assert "customer_mobile" in assert_envelope(response, 400, "invalid_type")["errors"]


def test_missing_name_is_422(company_api):
    response = company_api.post(URL, {"customer_mobile": "1234567890"}, format="json")
    assert "customer_name" in assert_envelope(response, 422, "validation_error")["errors"]


def test_external_id_of_another_customer_is_refused(company_api, tenant):
    CustomerFactory(company=tenant.company, mobile="5555555555", external_id="crm-9")
    response = company_api.post(URL, {**BODY, "external_id": "crm-9"}, format="json")
    assert_envelope(response, 422, "external_id_taken")


def test_same_mobile_in_two_companies_is_two_customers(company_api, api, tenant, other_tenant):
    company_api.post(URL, BODY, format="json")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {other_tenant.token}")
    response = api.post(URL, BODY, format="json")
    assert response.status_code == 201
    assert Customer.objects.filter(mobile="1234567890").count() == 2
    assert response.json()["customer"]["id"] != Customer.objects.get(company=tenant.company).pk


def test_company_token_is_refused_where_a_customer_token_is_required(company_api, tenant):
    # A customer-only view exercised directly through its authentication class.
    from rest_framework.test import APIRequestFactory

    from config.api.auth import CustomerTokenAuthentication

    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {tenant.token}")
    from rest_framework.exceptions import AuthenticationFailed

    with pytest.raises(AuthenticationFailed):
        CustomerTokenAuthentication().authenticate(request)


def test_a_token_cannot_reach_another_companys_customer(api, tenant, other_tenant):
    # A validly signed customer token naming tenant's secret but another company's customer.
    from config.api.auth import customer_token_for

    foreign = CustomerFactory(company=other_tenant.company)
    token = customer_token_for(foreign, secret_id=tenant.secret.pk)
    token["cid"] = tenant.company.pk
    from rest_framework.exceptions import AuthenticationFailed
    from rest_framework.test import APIRequestFactory

    from config.api.auth import CustomerTokenAuthentication

    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {token}")
    with pytest.raises(AuthenticationFailed):
        CustomerTokenAuthentication().authenticate(request)
