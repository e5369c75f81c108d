from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.models import Order
from orders.services import LineInput, order_redeem_skus
from tests.conftest import assert_envelope
from tests.factories import CustomerFactory
from tests.orders.conftest import EXAMPLE_BODY, client_for, redeem

pytestmark = pytest.mark.django_db

LIST = "/v1/orders"


def place(customer, *, sku: str = "BIGCITY Seeds", quantity: int = 1, created_at=None) -> Order:
    """An order made through the service (what the API calls), optionally back-dated."""
    result = order_redeem_skus(
        customer=customer,
        company=customer.company,
        order_timestamp=timezone.now(),
        order_total=Decimal(10 * quantity),
        order_items=quantity,
        line_items=[LineInput(sku=sku, quantity=quantity, price=Decimal(10))],
    )
    order = result.order
    if created_at is not None:
        Order.objects.filter(pk=order.pk).update(created_at=created_at)
    return order


def ids(response) -> list[str]:
    return [order["order_id"] for order in response.json()["results"]]


def test_company_sees_all_its_orders_newest_first(company_api, tenant, other_tenant, catalog):
    alice, bob = CustomerFactory.create_batch(2, company=tenant.company)
    first, second = place(alice), place(bob)
    place(CustomerFactory(company=other_tenant.company))

    response = company_api.get(LIST)

    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (2, None, None)
    assert ids(response) == [second.public_id, first.public_id]


def test_customer_sees_only_their_own(customer_api, tenant, customer, catalog):
    mine = place(customer)
    place(CustomerFactory(company=tenant.company))

    assert ids(customer_api.get(LIST)) == [mine.public_id]


def test_a_listed_order_has_the_201_shape(customer_api, catalog):
    created = redeem(customer_api, EXAMPLE_BODY).json()
    assert customer_api.get(LIST).json()["results"] == [created]
    assert customer_api.get(f"{LIST}/{created['order_id']}").json() == created


def test_filters_by_dates_status_and_mobile(company_api, tenant, catalog):
    alice = CustomerFactory(company=tenant.company, mobile="5550000001")
    bob = CustomerFactory(company=tenant.company, mobile="5550000002")
    day = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
    march_9 = place(alice, created_at=day - dt.timedelta(days=1))
    march_10 = place(bob, created_at=day.replace(hour=23, minute=59))
    march_11 = place(alice, created_at=day + dt.timedelta(days=1))
    Order.objects.filter(pk=march_11.pk).update(status=Order.Status.PENDING)

    assert ids(company_api.get(LIST, {"from": "2026-03-10"})) == [
        march_11.public_id,
        march_10.public_id,
    ]
    assert ids(company_api.get(LIST, {"to": "2026-03-10"})) == [
        march_10.public_id,
        march_9.public_id,
    ]
    assert ids(company_api.get(LIST, {"from": "2026-03-10", "to": "2026-03-10"})) == [
        march_10.public_id
    ]
    assert ids(company_api.get(LIST, {"status": "pending"})) == [march_11.public_id]
    assert ids(company_api.get(LIST, {"customer_mobile": "5550000001"})) == [
        march_11.public_id,
        march_9.public_id,
    ]
    assert ids(company_api.get(LIST, {"customer_mobile": "0000000000"})) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"to": "10/03/2026"}, "to"),
        ({"from": "2026-03-11", "to": "2026-03-10"}, "to"),
        ({"status": "shipped"}, "status"),
    ],
)
def test_bad_filters_are_422(company_api, params, field):
    assert field in assert_envelope(company_api.get(LIST, params), 422)["errors"]


def test_dates_at_the_ends_of_the_calendar_are_open_bounds(company_api, customer, catalog):
    order = place(customer)

    for params in ({"to": "9999-12-31"}, {"from": "0001-01-01", "to": "9999-12-31"}):
        response = company_api.get(LIST, params)
        assert response.status_code == 200, response.content
        assert ids(response) == [order.public_id]


def test_a_customer_may_not_filter_by_mobile(customer_api, customer):
    response = customer_api.get(LIST, {"customer_mobile": customer.mobile})
    assert "customer_mobile" in assert_envelope(response, 422, "validation_error")["errors"]


def test_pagination_with_limit_and_page(company_api, customer, catalog):
    placed = [place(customer) for _ in range(5)]
    newest_first = [o.public_id for o in reversed(placed)]

    page_2 = company_api.get(LIST, {"limit": 2, "page": 2}).json()

    assert page_2["count"] == 5
    assert [o["order_id"] for o in page_2["results"]] == newest_first[2:4]
    assert "page=3" in page_2["next"] and "limit=2" in page_2["next"]
    assert page_2["previous"].endswith("limit=2")
    assert len(company_api.get(LIST, {"limit": 1000}).json()["results"]) == 5
    assert_envelope(company_api.get(LIST, {"limit": 2, "page": 9}), 404, "not_found")


def test_page_size_is_capped_at_100(company_api, customer, catalog):
    for _ in range(101):
        place(customer)
    body = company_api.get(LIST, {"limit": 500}).json()
    assert len(body["results"]) == 100 and body["count"] == 101
    assert len(company_api.get(LIST).json()["results"]) == 20


@pytest.mark.parametrize("value", ["abc", "0", "-1", "", "1.5", "+1", " 1", "last", "\u0661"])
@pytest.mark.parametrize("name", ["page", "limit"])
def test_a_malformed_page_or_limit_is_a_validation_error_naming_it(
    company_api, customer, catalog, name, value
):
    place(customer)
    response = company_api.get(LIST, {name: value})
    body = assert_envelope(response, 422, "validation_error")
    assert body["errors"] == {name: ["Must be a positive integer (1 or more)."]}


def test_page_limit_and_filter_errors_are_reported_together(customer_api):
    response = customer_api.get(
        LIST, {"page": "abc", "limit": "0", "status": "lost", "customer_mobile": "5550000001"}
    )
    errors = assert_envelope(response, 422, "validation_error")["errors"]
    assert set(errors) == {"page", "limit", "status", "customer_mobile"}


def test_a_page_past_the_end_is_not_found_and_an_empty_list_has_page_1(company_api, customer):
    # No orders: page 1 is an empty page; any later page is past the end.
    first = company_api.get(LIST, {"page": "1"})
    assert first.status_code == 200
    assert first.json() == {"count": 0, "next": None, "previous": None, "results": []}
    assert_envelope(company_api.get(LIST, {"page": "2"}), 404, "not_found")
    assert_envelope(company_api.get(LIST, {"page": "9" * 30}), 404, "not_found")


def test_well_formed_page_and_limit_variants(company_api, customer, catalog):
    placed = [place(customer) for _ in range(3)]
    newest_first = [o.public_id for o in reversed(placed)]

    assert ids(company_api.get(LIST, {"page": "02", "limit": "01"})) == newest_first[1:2]
    # A huge limit is capped, not refused.
    huge = company_api.get(LIST, {"limit": "9" * 30})
    assert huge.status_code == 200 and ids(huge) == newest_first


def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(LIST, {"limit": 100})
    assert response.status_code == 200
    return len(queries)


def test_query_count_does_not_grow_with_the_page(company_api, customer, catalog):
    place(customer, quantity=2)
    one = _list_queries(company_api)
    for _ in range(49):
        place(customer, quantity=3)
    assert len(company_api.get(LIST, {"limit": 100}).json()["results"]) == 50
    assert _list_queries(company_api) == one


def test_detail_of_another_company_or_customer_is_404(
    company_api, customer_api, tenant, other_tenant, catalog
):
    neighbour = place(CustomerFactory(company=tenant.company))
    foreign = place(CustomerFactory(company=other_tenant.company))

    assert company_api.get(f"{LIST}/{neighbour.public_id}").status_code == 200
    assert_envelope(customer_api.get(f"{LIST}/{neighbour.public_id}"), 404, "not_found")
    assert_envelope(company_api.get(f"{LIST}/{foreign.public_id}"), 404, "not_found")
    assert_envelope(customer_api.get(f"{LIST}/{foreign.public_id}"), 404, "not_found")
    assert_envelope(company_api.get(f"{LIST}/ord_doesnotexist"), 404, "not_found")
    other_company = client_for(other_tenant.token)
    assert ids(other_company.get(LIST)) == [foreign.public_id]


def test_history_needs_a_token(api):
    assert_envelope(api.get(LIST), 401, "not_authenticated")
    assert_envelope(api.get(f"{LIST}/ord_x"), 401, "not_authenticated")


def test_history_refuses_bad_and_revoked_tokens_of_either_kind(tenant, customer):
    from companies.models import Company
    from companies.services import company_secret_revoke

    assert_envelope(client_for("not-a-jwt").get(LIST), 401, "invalid_token")
    company_token, customer_token = tenant.token, tenant.customer_token(customer)
    tampered = company_token[:-2] + ("AA" if not company_token.endswith("AA") else "BB")
    assert_envelope(client_for(tampered).get(LIST), 401, "invalid_token")

    Company.objects.filter(pk=tenant.company.pk).update(status=Company.Status.SUSPENDED)
    assert_envelope(client_for(customer_token).get(LIST), 403, "company_inactive")
    Company.objects.filter(pk=tenant.company.pk).update(status=Company.Status.ACTIVE)

    company_secret_revoke(secret=tenant.secret)
    assert_envelope(client_for(company_token).get(LIST), 401, "token_revoked")
    assert_envelope(client_for(customer_token).get(LIST), 401, "token_revoked")
