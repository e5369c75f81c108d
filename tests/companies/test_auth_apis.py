from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from companies.models import Company, CompanySecret
from companies.services import company_secret_revoke
from config.api.auth import CompanyAccessToken, company_token_for
from tests.conftest import assert_envelope

pytestmark = pytest.mark.django_db

COMPANY_AUTH = "/v1/company/auth"
CUSTOMER_AUTH = "/v1/customer/auth"
REWARDS = "/v1/customer/auth"  # a company-token endpoint


def test_company_auth_returns_a_bearer_token(api, tenant):
    response = api.post(COMPANY_AUTH, {"secret": tenant.plain_secret}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    token = CompanyAccessToken(body["access_token"])
    assert token["token_type"] == "company" and token["sub"] == str(tenant.company.pk)


def test_company_auth_refuses_a_wrong_secret(api, tenant):
    response = api.post(COMPANY_AUTH, {"secret": tenant.plain_secret + "x"}, format="json")
    assert_envelope(response, 401, "invalid_secret")


def test_company_auth_refuses_a_revoked_secret(api, tenant):
    company_secret_revoke(secret=tenant.secret)
    response = api.post(COMPANY_AUTH, {"secret": tenant.plain_secret}, format="json")
    assert_envelope(response, 401, "invalid_secret")


def test_company_auth_refuses_a_suspended_company(api, tenant):
    Company.objects.filter(pk=tenant.company.pk).update(status=Company.Status.SUSPENDED)
    response = api.post(COMPANY_AUTH, {"secret": tenant.plain_secret}, format="json")
    assert_envelope(response, 403, "company_inactive")


@pytest.mark.parametrize(
    ("body", "status", "type_"),
    [
        ("{not json", 400, "malformed_json"),
        ('{"secret": ' + "[" * 100_000 + "]" * 100_000 + "}", 400, "malformed_json"),
        ("[1, 2]", 400, "invalid_body"),
        ('"secret"', 400, "invalid_body"),
        ('{"secret": 12345}', 400, "invalid_type"),
        ("{}", 422, "validation_error"),
        ('{"secret": ""}', 422, "validation_error"),
    ],
)
def test_company_auth_bad_bodies_get_the_envelope(api, body, status, type_):
    response = api.generic("POST", COMPANY_AUTH, body, content_type="application/json")
    envelope = assert_envelope(response, status, type_)
    if status == 422 or type_ == "invalid_type":
        assert "secret" in envelope["errors"]


def test_company_auth_wrong_method_and_media_type(api):
    assert_envelope(api.get(COMPANY_AUTH), 405, "method_not_allowed")
    response = api.generic("POST", COMPANY_AUTH, "secret=x", content_type="text/plain")
    assert_envelope(response, 415, "unsupported_media_type")


def test_unknown_path_under_v1_is_an_envelope_404(api):
    assert_envelope(api.get("/v1/nope"), 404, "not_found")
    assert_envelope(api.post("/v1/company/auth/extra", {}, format="json"), 404, "not_found")
    # As a real client calls it: with CSRF checks on (the test client turns them off).
    strict = APIClient(enforce_csrf_checks=True)
    for method in ("post", "put", "delete"):
        response = getattr(strict, method)("/v1/nope", {}, format="json")
        assert_envelope(response, 404, "not_found")
        response = getattr(strict, method)("/api_gateway/nope", {}, format="json")
        assert response.status_code == 404 and response.json()["status"]["code"] == 1008


def test_oversized_body_is_refused_in_the_envelope(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.post(COMPANY_AUTH, {"secret": "x" * 5000}, format="json")
    assert_envelope(response, 413, "request_too_large")


def test_database_holds_no_plain_secret(tenant):
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM companies_companysecret")
        rows = cursor.fetchall()
    assert rows
    dump = json.dumps(rows, default=str)
    assert tenant.plain_secret not in dump
    assert tenant.plain_secret[12:] not in dump  # not even the random part after the prefix
    secret = CompanySecret.objects.get(pk=tenant.secret.pk)
    assert tenant.plain_secret.startswith(secret.prefix)


# --- tokens on protected endpoints ----------------------------------------------------------


def _customer_auth(api, token, **body):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    payload = {"customer_name": "Jo", "customer_mobile": "9876543210", **body}
    return api.post(CUSTOMER_AUTH, payload, format="json")


def test_missing_token_is_401(api):
    assert_envelope(api.post(CUSTOMER_AUTH, {}, format="json"), 401, "not_authenticated")


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b"])
def test_a_malformed_bearer_header_is_401_with_a_readable_message(api, header):
    api.credentials(HTTP_AUTHORIZATION=header)
    body = assert_envelope(api.get("/v1/bigcity/rewards"), 401, "invalid_token")
    assert body["message"] == "Authorization header must contain two space-delimited values"


def test_customer_token_is_refused_on_a_company_endpoint(api, tenant, customer):
    response = _customer_auth(api, tenant.customer_token(customer))
    assert_envelope(response, 401, "invalid_token")


def test_tampered_signature_is_refused(api, tenant):
    header, payload, signature = tenant.token.split(".")
    forged = (
        base64.urlsafe_b64encode(json.dumps({**_claims(tenant.token), "sub": "999999"}).encode())
        .rstrip(b"=")
        .decode()
    )
    assert_envelope(_customer_auth(api, f"{header}.{forged}.{signature}"), 401, "invalid_token")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    assert_envelope(_customer_auth(api, f"{header}.{payload}.{flipped}"), 401, "invalid_token")


def test_alg_none_token_is_refused(api, tenant):
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    payload = tenant.token.split(".")[1]
    assert_envelope(_customer_auth(api, f"{header}.{payload}."), 401, "invalid_token")


def test_expired_token_is_refused(api, tenant):
    token = company_token_for(tenant.secret)
    token.set_exp(from_time=timezone.now() - timedelta(hours=2), lifetime=timedelta(minutes=1))
    assert_envelope(_customer_auth(api, str(token)), 401, "invalid_token")


def test_garbage_token_is_refused(api):
    assert_envelope(_customer_auth(api, "not-a-jwt"), 401, "invalid_token")


def test_suspended_company_token_stops_working_at_once(api, tenant):
    token = tenant.token
    assert _customer_auth(api, token).status_code == 201
    Company.objects.filter(pk=tenant.company.pk).update(status=Company.Status.SUSPENDED)
    assert_envelope(_customer_auth(api, token), 403, "company_inactive")


def test_revoked_secret_token_stops_working_at_once(api, tenant, customer):
    company_token, customer_token = tenant.token, tenant.customer_token(customer)
    company_secret_revoke(secret=tenant.secret)
    assert_envelope(_customer_auth(api, company_token), 401, "token_revoked")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {customer_token}")


def test_token_from_another_signing_key_is_refused(api, tenant):
    import jwt

    claims = _claims(tenant.token)
    forged = jwt.encode(claims, "another-signing-key-of-sufficient-length!", algorithm="HS256")
    assert_envelope(_customer_auth(api, forged), 401, "invalid_token")


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


# --- rate limits ----------------------------------------------------------------------------


@override_settings(RATE_LIMIT_COMPANY_AUTH="3/m")
def test_company_auth_is_rate_limited_per_client_address(api, tenant):
    for _ in range(3):
        assert api.post(COMPANY_AUTH, {"secret": "wrong"}, format="json").status_code == 401
    response = api.post(COMPANY_AUTH, {"secret": tenant.plain_secret}, format="json")
    assert_envelope(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60
    # Another address is not affected.
    other = api.post(
        COMPANY_AUTH, {"secret": tenant.plain_secret}, format="json", REMOTE_ADDR="10.9.9.9"
    )
    assert other.status_code == 200


@override_settings(RATE_LIMIT_COMPANY_AUTH="2/m", TRUSTED_PROXY_COUNT=0)
def test_forwarded_for_is_ignored_unless_trusted(api, tenant):
    for n in range(2):
        api.post(COMPANY_AUTH, {"secret": "x"}, format="json", HTTP_X_FORWARDED_FOR=f"1.1.1.{n}")
    response = api.post(
        COMPANY_AUTH, {"secret": "x"}, format="json", HTTP_X_FORWARDED_FOR="8.8.8.8"
    )
    assert_envelope(response, 429, "rate_limited")


@override_settings(RATE_LIMIT_COMPANY_AUTH="2/m", TRUSTED_PROXY_COUNT=1)
def test_forwarded_for_counts_behind_a_trusted_proxy(api, tenant):
    for _ in range(2):
        api.post(COMPANY_AUTH, {"secret": "x"}, format="json", HTTP_X_FORWARDED_FOR="1.1.1.1")
    limited = api.post(COMPANY_AUTH, {"secret": "x"}, format="json", HTTP_X_FORWARDED_FOR="1.1.1.1")
    assert_envelope(limited, 429, "rate_limited")
    fresh = api.post(COMPANY_AUTH, {"secret": "x"}, format="json", HTTP_X_FORWARDED_FOR="2.2.2.2")
    assert fresh.status_code == 401


@override_settings(RATE_LIMIT_COMPANY_CALLS="2/m")
def test_authenticated_calls_are_limited_per_company(api, tenant, other_tenant):
    token = tenant.token
    for n in range(2):
        assert _customer_auth(api, token, customer_mobile=f"987654321{n}").status_code == 201
    response = _customer_auth(api, token)
    assert_envelope(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 1
    # The limit is per company: another company still gets through.
    assert _customer_auth(api, other_tenant.token).status_code == 201


def test_per_company_limit_overrides_the_default(api, tenant):
    Company.objects.filter(pk=tenant.company.pk).update(rate_limit_per_minute=1)
    assert _customer_auth(api, tenant.token).status_code == 201
    assert_envelope(_customer_auth(api, tenant.token), 429, "rate_limited")


def test_when_the_cache_is_down_limits_fail_open_and_healthz_says_so(api, tenant, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.2},
        }
    }
    settings.RATE_LIMIT_COMPANY_AUTH = "1/m"
    # Django's setting_changed signal rebuilds the cache handlers, here and on teardown.
    for _ in range(3):
        response = api.post(COMPANY_AUTH, {"secret": tenant.plain_secret}, format="json")
        assert response.status_code == 200
    health = api.get("/healthz")
    assert health.status_code == 503
    assert health.json()["checks"] == {"database": True, "cache": False}


def test_healthz_is_200_when_database_and_cache_answer(api):
    response = api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": True, "cache": True}}


def test_company_me_answers_who_is_calling(company_api, tenant):
    response = company_api.get("/v1/company")
    assert response.status_code == 200
    assert response.json() == {
        "client_id": tenant.company.client_id,
        "name": tenant.company.name,
        "status": "active",
    }
