from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_openapi_schema_and_docs_are_served_offline(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    body = schema.json()
    assert body["openapi"].startswith("3.")
    assert "/v1/company/auth" in body["paths"] and "/v1/customer/auth" in body["paths"]

    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    # Swagger UI comes from the sidecar package, not a CDN.
    assert "drf_spectacular_sidecar" in html and "cdn.jsdelivr" not in html


def test_production_settings_pass_check_deploy():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "x" * 30 + "-production-like-secret-key-with-entropy-9f8e7d",
        "JWT_SIGNING_KEY": "y" * 50,
        "DJANGO_ALLOWED_HOSTS": "api.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SECRET_KEY", "JWT_SIGNING_KEY"}}
    env.update(
        {"DJANGO_SETTINGS_MODULE": "config.settings.production", "DJANGO_ALLOWED_HOSTS": "x"}
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


@pytest.mark.django_db
def test_unexpected_error_is_a_500_envelope_without_a_trace(api, tenant, monkeypatch):
    import companies.apis

    def boom(**_):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(companies.apis, "company_authenticate", boom)
    response = api.post("/v1/company/auth", {"secret": "x"}, format="json")
    assert response.status_code == 500
    body = response.json()
    assert body["type"] == "internal_error" and body["status"] == 500
    assert "secret internals" not in response.content.decode()
