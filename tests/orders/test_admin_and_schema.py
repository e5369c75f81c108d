from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client

from orders import services
from orders.models import Order, Voucher
from tests.orders.conftest import EXAMPLE_BODY, redeem

pytestmark = pytest.mark.django_db


@pytest.fixture
def placed(customer_api, catalog) -> Order:
    body = redeem(customer_api, EXAMPLE_BODY).json()
    return Order.objects.get(public_id=body["order_id"])


@pytest.fixture
def superuser_client():
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", "r@example.com", "pw"))
    return client


@pytest.fixture
def staff_client():
    client = Client()
    user = get_user_model().objects.create_user("staff", "s@example.com", "pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="orders", codename__in=["view_order", "view_voucher"]
        )
    )
    client.force_login(user)
    return client


def test_order_admin_is_read_only_with_lines_and_vouchers_inline(superuser_client, placed):
    changelist = superuser_client.get("/admin/orders/order/")
    assert changelist.status_code == 200
    assert placed.public_id in changelist.content.decode()
    assert superuser_client.get("/admin/orders/order/add/").status_code == 403

    page = superuser_client.get(f"/admin/orders/order/{placed.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "BIGCITY Seeds" in html and "POS-778812" in html
    assert 'name="_save"' not in html  # nothing to save
    assert superuser_client.get(f"/admin/orders/order/{placed.pk}/delete/").status_code == 403


def test_order_admin_searches_by_reference_and_mobile(superuser_client, placed, customer):
    for term in (placed.public_id, "POS-778812", customer.mobile):
        response = superuser_client.get("/admin/orders/order/", {"q": term})
        assert placed.public_id in response.content.decode()


def test_voucher_codes_are_whole_for_superusers_and_masked_for_staff(
    superuser_client, staff_client, placed
):
    code = Voucher.objects.filter(order=placed).first().code
    voucher = Voucher.objects.get(code=code)

    assert code in superuser_client.get("/admin/orders/voucher/").content.decode()

    listing = staff_client.get("/admin/orders/voucher/").content.decode()
    detail = staff_client.get(f"/admin/orders/voucher/{voucher.pk}/change/").content.decode()
    order_page = staff_client.get(f"/admin/orders/order/{placed.pk}/change/").content.decode()
    for html in (listing, detail, order_page):
        assert code not in html
        assert code[:4] + "…" in html
    # Nor can staff confirm a guessed code by searching for it.
    assert staff_client.get("/admin/orders/voucher/", {"q": code}).context["cl"].result_count == 0
    found = superuser_client.get("/admin/orders/voucher/", {"q": code}).context["cl"]
    assert [v.pk for v in found.result_list] == [voucher.pk]


def test_the_business_part_runs_without_the_idempotency_lock_timeout(
    customer_api, catalog, monkeypatch
):
    seen: list[str] = []
    original = services._order_create

    def spy(**kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('lock_timeout')")
            seen.append(cursor.fetchone()[0])
        return original(**kwargs)

    monkeypatch.setattr(services, "_order_create", spy)
    assert redeem(customer_api, EXAMPLE_BODY, key="k").status_code == 201
    assert seen == ["0"]


def test_schema_documents_the_order_endpoints(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    for path in (
        "/v1/bigcity/redeemptiononskus",
        "/v1/bigcity/redemptiononskus",
        "/v1/orders",
        "/v1/orders/{order_id}",
    ):
        assert path in paths
    post = paths["/v1/bigcity/redeemptiononskus"]["post"]
    assert {p["name"] for p in post["parameters"]} >= {"Idempotency-Key"}
    assert {"201", "400", "409", "422"} <= set(post["responses"])
    assert {p["name"] for p in paths["/v1/orders"]["get"]["parameters"]} >= {
        "from",
        "to",
        "status",
        "customer_mobile",
        "limit",
        "page",
    }
