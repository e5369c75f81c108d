from __future__ import annotations

import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from companies.models import Company, CompanySecret
from companies.services import company_authenticate, secret_digest

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def test_create_company_command_prints_a_working_secret():
    out = StringIO()
    call_command(
        "create_company",
        "Acme",
        "--client-id",
        "acme",
        "--store",
        "S1",
        "--store",
        "S2",
        "--earn-rate",
        "0.25",
        stdout=out,
    )
    printed = json.loads(out.getvalue())
    assert printed["client_id"] == "acme"
    company = Company.objects.get(client_id="acme")
    assert sorted(company.stores.values_list("code", flat=True)) == ["S1", "S2"]
    assert str(company.points_earn_rate) == "0.2500"
    assert company_authenticate(secret=printed["secret"]).company == company
    assert CompanySecret.objects.get(company=company).digest == secret_digest(printed["secret"])


def test_create_company_with_a_parent_and_refusals():
    call_command("create_company", "Parent", "--client-id", "parent", stdout=StringIO())
    call_command(
        "create_company", "Child", "--client-id", "child", "--parent", "parent", stdout=StringIO()
    )
    assert Company.objects.get(client_id="child").parent.client_id == "parent"
    with pytest.raises(CommandError, match="exists"):
        call_command("create_company", "Again", "--client-id", "child", stdout=StringIO())
    with pytest.raises(CommandError, match="No company"):
        call_command(
            "create_company", "X", "--client-id", "x", "--parent", "nope", stdout=StringIO()
        )
    with pytest.raises(CommandError):
        call_command(
            "create_company", "Y", "--client-id", "y", "--earn-rate", "abc", stdout=StringIO()
        )


def test_rotate_secret_adds_a_live_secret_and_keeps_the_old_one(tenant):
    out = StringIO()
    call_command("rotate_secret", tenant.company.client_id, stdout=out)
    new_secret = json.loads(out.getvalue())["secret"]
    assert company_authenticate(secret=new_secret).company == tenant.company
    assert company_authenticate(secret=tenant.plain_secret).company == tenant.company
    with pytest.raises(CommandError):
        call_command("rotate_secret", "nope", stdout=StringIO())


def test_admin_creates_a_company_and_shows_its_secret_once(admin_client):
    response = admin_client.post(
        "/admin/companies/company/add/",
        {
            "name": "Admin Co",
            "client_id": "admin-co",
            "status": "active",
            "points_earn_rate": "0.1",
            "alert_emails": "",
            "stores-TOTAL_FORMS": "0",
            "stores-INITIAL_FORMS": "0",
            "secrets-TOTAL_FORMS": "0",
            "secrets-INITIAL_FORMS": "0",
        },
        follow=True,
    )
    assert response.status_code == 200
    company = Company.objects.get(client_id="admin-co")
    shown = [str(m) for m in response.context["messages"]]
    secret = (
        next(m for m in shown if "bcs_" in m).split("New secret for admin-co: ")[1].split(" ")[0]
    )
    assert company_authenticate(secret=secret).company == company


def test_admin_issues_and_revokes_secrets(admin_client, tenant):
    response = admin_client.post(
        "/admin/companies/company/",
        {"action": "issue_secret", "_selected_action": [tenant.company.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert tenant.company.secrets.count() == 2

    admin_client.post(
        "/admin/companies/companysecret/",
        {"action": "revoke", "_selected_action": [tenant.secret.pk]},
        follow=True,
    )
    tenant.secret.refresh_from_db()
    assert tenant.secret.revoked_at is not None
    change = admin_client.get(f"/admin/companies/companysecret/{tenant.secret.pk}/change/")
    assert change.status_code == 200
    assert tenant.secret.digest not in change.content.decode()


def test_admin_customer_search(admin_client, customer):
    response = admin_client.get("/admin/customers/customer/", {"q": customer.mobile})
    assert response.status_code == 200
    assert customer.name in response.content.decode()
