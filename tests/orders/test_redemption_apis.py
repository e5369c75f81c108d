from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.models import PointsLedgerEntry
from orders.models import LineItem, Order, Voucher
from rewards.models import Reward, StockMovement
from tests.conftest import assert_envelope
from tests.factories import CustomerFactory, reward_with_sku
from tests.orders.conftest import ALIAS_URL, EXAMPLE_BODY, URL, order_body, redeem

pytestmark = pytest.mark.django_db

CODE = re.compile(r"^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{13}$")


# --- the happy path -----------------------------------------------------------------------


def test_contract_example_creates_an_order_with_one_voucher_per_unit(
    customer_api, tenant, customer, catalog
):
    response = redeem(customer_api, EXAMPLE_BODY)

    assert response.status_code == 201, response.content
    body = response.json()
    assert list(body) == [
        "order_id",
        "status",
        "order_timestamp",
        "order_total",
        "order_items",
        "points_earned",
        "line_items",
        "vouchers",
    ]
    assert body["order_id"].startswith("ord_")
    assert body["status"] == "fulfilled"
    assert body["order_timestamp"] == "2025-10-13T19:42:36Z"  # the same instant, in UTC
    assert (body["order_total"], body["order_items"], body["points_earned"]) == ("1500", 3, 150)
    assert body["line_items"] == [
        {"sku": "BIGCITY Seeds", "quantity": 2, "price": "500", "reward_id": catalog.seeds.pk},
        {
            "sku": "BIGCITY Oats - All Variants",
            "quantity": 1,
            "price": "500",
            "reward_id": catalog.oats.pk,
        },
    ]
    vouchers = body["vouchers"]
    assert [(v["reward_id"], v["sku"], v["denomination_value"]) for v in vouchers] == [
        (catalog.seeds.pk, "BIGCITY Seeds", "10"),
        (catalog.seeds.pk, "BIGCITY Seeds", "10"),
        (catalog.oats.pk, "BIGCITY Oats - All Variants", "30"),
    ]
    for voucher in vouchers:
        assert set(voucher) == {
            "code",
            "reward_id",
            "denomination_value",
            "sku",
            "status",
            "valid_till",
        }
        assert CODE.match(voucher["code"]) and voucher["status"] == "issued"
        assert voucher["valid_till"] is None

    order = Order.objects.get(public_id=body["order_id"])
    assert (order.company, order.customer, order.order_reference) == (
        tenant.company,
        customer,
        "POS-778812",
    )
    assert order.order_total == Decimal("1500") and order.points_earned == 150
    assert LineItem.objects.filter(order=order).count() == 2
    assert Voucher.objects.filter(order=order, customer=customer, status="issued").count() == 3
    assert all(v.issued_at is not None for v in Voucher.objects.filter(order=order))
    entry = PointsLedgerEntry.objects.get(customer=customer)
    assert (entry.kind, entry.points, entry.reference) == ("earn", 150, order.public_id)
    customer.refresh_from_db()
    assert customer.points_balance == 150


def test_alias_path_does_the_same(customer_api, catalog):
    response = redeem(customer_api, EXAMPLE_BODY, url=ALIAS_URL)
    assert response.status_code == 201
    assert len(response.json()["vouchers"]) == 3


def test_limited_stock_is_taken_with_a_movement_row(customer_api, tenant):
    reward = reward_with_sku(tenant.company, "LIMITED", qty=5)

    response = redeem(customer_api, order_body(("LIMITED", 2, 10)))

    assert response.status_code == 201
    reward.refresh_from_db()
    assert (reward.qty, reward.status) == (3, Reward.Status.ACTIVE)
    movement = StockMovement.objects.get(reward=reward)
    assert (movement.delta, movement.qty_after, movement.reason, movement.reference) == (
        -2,
        3,
        "order",
        response.json()["order_id"],
    )


def test_sku_match_is_trimmed_and_case_insensitive_and_keeps_the_sku_as_sent(customer_api, catalog):
    response = redeem(customer_api, order_body(("  bigcity SEEDS ", 1, 5)))

    assert response.status_code == 201
    body = response.json()
    assert body["line_items"][0]["sku"] == "  bigcity SEEDS "
    assert body["line_items"][0]["reward_id"] == catalog.seeds.pk
    assert len(body["vouchers"]) == 1


def test_unmatched_sku_is_kept_and_earns_nothing_but_points(customer_api, customer, catalog):
    response = redeem(customer_api, order_body(("BIGCITY Seeds", 1, 100), ("UNKNOWN", 4, 25)))

    assert response.status_code == 201
    body = response.json()
    assert body["line_items"][1] == {
        "sku": "UNKNOWN",
        "quantity": 4,
        "price": "25",
        "reward_id": None,
    }
    assert [v["sku"] for v in body["vouchers"]] == ["BIGCITY Seeds"]
    assert body["points_earned"] == 20
    assert LineItem.objects.get(sku="UNKNOWN").reward is None


def test_an_order_with_no_mapped_sku_is_fulfilled_with_no_vouchers(customer_api):
    response = redeem(customer_api, order_body(("NOTHING", 1, 10)))
    assert response.status_code == 201
    assert response.json()["vouchers"] == [] and response.json()["status"] == "fulfilled"


def test_another_companys_sku_does_not_match(customer_api, other_tenant):
    reward_with_sku(other_tenant.company, "FOREIGN")
    response = redeem(customer_api, order_body(("FOREIGN", 1, 10)))
    assert response.status_code == 201
    assert response.json()["vouchers"] == []
    assert response.json()["line_items"][0]["reward_id"] is None


@pytest.mark.parametrize(
    "fields",
    [
        {"status": Reward.Status.INACTIVE},  # switched off by staff, unlimited
        {"status": Reward.Status.INACTIVE, "qty": 5},  # switched off by staff, stock left
        {"starts_at": timezone.now() + dt.timedelta(days=1)},
        {
            "starts_at": timezone.now() - dt.timedelta(days=2),
            "ends_at": timezone.now() - dt.timedelta(days=1),
        },
        {"valid_until": dt.date.today() - dt.timedelta(days=1)},
    ],
)
def test_a_reward_not_on_offer_earns_nothing(customer_api, tenant, fields):
    reward_with_sku(tenant.company, "OFF", **fields)
    response = redeem(customer_api, order_body(("OFF", 1, 10)))
    assert response.status_code == 201
    assert response.json()["vouchers"] == []


def test_valid_till_is_the_earlier_of_validity_days_and_valid_until(customer_api, tenant):
    today = timezone.localdate()
    reward_with_sku(tenant.company, "DAYS", validity_days=30)
    reward_with_sku(
        tenant.company, "UNTIL", validity_days=30, valid_until=today + dt.timedelta(days=10)
    )
    reward_with_sku(
        tenant.company, "LATE", validity_days=5, valid_until=today + dt.timedelta(days=10)
    )

    body = redeem(customer_api, order_body(("DAYS", 1, 1), ("UNTIL", 1, 1), ("LATE", 1, 1))).json()

    assert [v["valid_till"] for v in body["vouchers"]] == [
        (today + dt.timedelta(days=30)).isoformat(),
        (today + dt.timedelta(days=10)).isoformat(),
        (today + dt.timedelta(days=5)).isoformat(),
    ]


def test_money_keeps_cents_and_renders_plain(customer_api, customer, catalog):
    response = redeem(
        customer_api,
        {
            "order_timestamp": "2025-10-13T15:42:36Z",
            "order_total": 25.5,
            "order_items": 3,
            "line_items": [
                {"sku": "BIGCITY Seeds", "quantity": 2, "price": "12.50"},
                {"sku": "X", "quantity": 1, "price": 0.5},
            ],
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["order_total"] == "25.5"
    assert [line["price"] for line in body["line_items"]] == ["12.5", "0.5"]
    assert body["points_earned"] == 2  # 25.5 x 0.1 = 2.55, rounded down
    assert Order.objects.get().order_total == Decimal("25.50")


def test_zero_total_and_zero_rate_earn_no_points_and_write_no_ledger_row(
    customer_api, tenant, customer
):
    tenant.company.points_earn_rate = Decimal("0")
    tenant.company.save()
    response = redeem(customer_api, order_body(("FREE", 1, 0)))
    assert response.status_code == 201
    assert response.json()["points_earned"] == 0
    assert not PointsLedgerEntry.objects.filter(customer=customer).exists()


def test_fields_a_caller_must_not_set_are_ignored(customer_api, catalog):
    body = {
        **EXAMPLE_BODY,
        "status": "failed",
        "points_earned": 999_999,
        "order_id": "ord_mine",
        "code": "AAAA",
        "vouchers": [{"code": "MYCODE"}],
        "line_items": [
            {**line, "reward_id": 999, "code": "X", "denomination_value": 1000}
            for line in EXAMPLE_BODY["line_items"]
        ],
    }
    response = redeem(customer_api, body)

    assert response.status_code == 201
    out = response.json()
    assert out["status"] == "fulfilled" and out["points_earned"] == 150
    assert out["order_id"] != "ord_mine"
    assert {v["denomination_value"] for v in out["vouchers"]} == {"10", "30"}
    assert "MYCODE" not in {v["code"] for v in out["vouchers"]}


# --- stock --------------------------------------------------------------------------------


def test_out_of_stock_creates_nothing_and_names_the_skus(customer_api, tenant, customer, catalog):
    short = reward_with_sku(tenant.company, "SHORT ONE", qty=1)
    plenty = reward_with_sku(tenant.company, "PLENTY", qty=10)

    response = redeem(
        customer_api, order_body(("PLENTY", 3, 10), ("BIGCITY Seeds", 1, 5), ("SHORT ONE", 2, 5))
    )

    body = assert_envelope(response, 422, "out_of_stock")
    assert body["errors"] == {"line_items": ["out of stock: SHORT ONE"]}
    assert body["skus"] == ["SHORT ONE"]
    assert body["reward_ids"] == [short.pk]
    short.refresh_from_db()
    plenty.refresh_from_db()
    assert (short.qty, plenty.qty) == (1, 10)
    assert not StockMovement.objects.exists()
    assert not Order.objects.exists() and not Voucher.objects.exists()
    assert not LineItem.objects.exists()
    assert not PointsLedgerEntry.objects.filter(customer=customer).exists()
    customer.refresh_from_db()
    assert customer.points_balance == 0


def test_stock_reaching_zero_sets_status_0_and_then_refuses(customer_api, tenant):
    reward = reward_with_sku(tenant.company, "LAST TWO", qty=2)

    assert redeem(customer_api, order_body(("LAST TWO", 2, 10))).status_code == 201
    reward.refresh_from_db()
    assert (reward.qty, reward.status) == (0, Reward.Status.INACTIVE)

    # Sold out is not "not on offer": the purchase is refused rather than silently unmatched.
    response = redeem(customer_api, order_body(("last two", 1, 10)))
    assert assert_envelope(response, 422, "out_of_stock")["skus"] == ["last two"]
    assert Order.objects.count() == 1


def test_two_lines_of_one_reward_are_counted_together(customer_api, tenant):
    reward_with_sku(tenant.company, "THREE LEFT", qty=3)
    response = redeem(customer_api, order_body(("THREE LEFT", 2, 10), ("three left", 2, 10)))
    assert assert_envelope(response, 422, "out_of_stock")["skus"] == ["THREE LEFT", "three left"]


# --- order_reference ----------------------------------------------------------------------


def test_duplicate_order_reference_is_refused_per_company(
    customer_api, tenant, other_tenant, catalog
):
    assert redeem(customer_api, EXAMPLE_BODY).status_code == 201

    again = redeem(customer_api, EXAMPLE_BODY)
    body = assert_envelope(again, 422, "duplicate_order_reference")
    assert "order_reference" in body["errors"]
    assert Order.objects.count() == 1 and Voucher.objects.count() == 3

    other_customer = CustomerFactory(company=other_tenant.company)
    from tests.orders.conftest import client_for

    other = client_for(other_tenant.customer_token(other_customer))
    assert redeem(other, EXAMPLE_BODY).status_code == 201  # another company may use it


def test_orders_without_reference_never_collide(customer_api, catalog):
    body = {k: v for k, v in EXAMPLE_BODY.items() if k != "order_reference"}
    assert redeem(customer_api, body).status_code == 201
    assert redeem(customer_api, {**body, "order_reference": ""}).status_code == 201
    assert redeem(customer_api, {**body, "order_reference": None}).status_code == 201
    assert Order.objects.filter(order_reference__isnull=True).count() == 3


# --- 400 vs 422 ---------------------------------------------------------------------------


def test_body_that_is_not_json_is_400(customer_api):
    response = customer_api.generic("POST", URL, "{not json", content_type="application/json")
    assert_envelope(response, 400, "malformed_json")


@pytest.mark.parametrize("raw", ["[]", '"text"', "3", "null"])
def test_body_that_is_not_an_object_is_400(customer_api, raw):
    response = customer_api.generic("POST", URL, raw, content_type="application/json")
    assert_envelope(response, 400, "invalid_body")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"order_timestamp": 1760384556}, "order_timestamp"),
        ({"order_total": True}, "order_total"),
        ({"order_total": [1500]}, "order_total"),
        ({"order_items": "3"}, "order_items"),
        ({"order_items": 3.0}, "order_items"),
        ({"order_reference": 778812}, "order_reference"),
        ({"line_items": {"sku": "BIGCITY Seeds"}}, "line_items"),
        ({"line_items": "BIGCITY Seeds"}, "line_items"),
        ({"line_items": ["BIGCITY Seeds"]}, "line_items"),
        ({"line_items": [{"sku": 5, "quantity": 3, "price": 500}]}, "line_items"),
        ({"line_items": [{"sku": "A", "quantity": "3", "price": 500}]}, "line_items"),
        ({"line_items": [{"sku": "A", "quantity": 3, "price": {}}]}, "line_items"),
    ],
)
def test_a_field_of_the_wrong_json_type_is_400_naming_it(customer_api, catalog, change, field):
    response = redeem(customer_api, {**EXAMPLE_BODY, **change})
    assert field in assert_envelope(response, 400, "invalid_type")["errors"]
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"order_total": 1499}, "order_total"),
        ({"order_total": "1500.01"}, "order_total"),
        ({"order_items": 4}, "order_items"),
        ({"order_timestamp": "2025-10-13T15:42:36"}, "order_timestamp"),
        ({"order_timestamp": "2025-10-13"}, "order_timestamp"),
        ({"order_timestamp": "yesterday"}, "order_timestamp"),
        ({"order_timestamp": "0001-01-01T00:00:00+14:00"}, "order_timestamp"),
        ({"order_total": -1}, "order_total"),
        ({"order_total": "1500.001"}, "order_total"),
        ({"order_total": 1500.005}, "order_total"),
        ({"order_total": "abc"}, "order_total"),
        ({"order_total": 1e20}, "order_total"),
        ({"order_total": None}, "order_total"),
        ({"order_reference": "R" * 101}, "order_reference"),
        ({"line_items": []}, "line_items"),
    ],
)
def test_a_well_typed_invalid_field_is_422_naming_it(customer_api, catalog, change, field):
    response = redeem(customer_api, {**EXAMPLE_BODY, **change})
    assert field in assert_envelope(response, 422, "validation_error")["errors"]
    assert not Order.objects.exists()


@pytest.mark.parametrize("missing", ["order_timestamp", "order_total", "order_items", "line_items"])
def test_a_missing_field_is_422(customer_api, missing):
    body = {k: v for k, v in EXAMPLE_BODY.items() if k != missing}
    assert missing in assert_envelope(redeem(customer_api, body), 422)["errors"]


@pytest.mark.parametrize(
    "line",
    [
        {"sku": "A", "quantity": 10**9, "price": 1},
        {"sku": "A", "quantity": 0, "price": 1},
        {"sku": "A", "quantity": -2, "price": 1},
        {"sku": "A", "quantity": 1, "price": -1},
        {"sku": "A", "quantity": 1, "price": "0.001"},
        {"sku": "   ", "quantity": 1, "price": 1},
        {"sku": "A" * 201, "quantity": 1, "price": 1},
        {"quantity": 1, "price": 1},
    ],
)
def test_a_bad_line_is_422_naming_line_items(customer_api, line):
    body = {"order_timestamp": "2025-10-13T15:42:36Z", "order_total": 1, "order_items": 1}
    response = redeem(customer_api, {**body, "line_items": [line]})
    errors = assert_envelope(response, 422, "validation_error")["errors"]
    assert "line_items" in errors


def test_an_absurd_quantity_is_refused_before_any_work(customer_api, catalog):
    body = order_body(("BIGCITY Seeds", 10**9, 1))
    response = redeem(customer_api, body)
    assert "line_items" in assert_envelope(response, 422, "validation_error")["errors"]
    assert not Voucher.objects.exists()


def test_too_many_lines_is_422(customer_api):
    lines = [(f"SKU{i}", 1, 1) for i in range(101)]
    response = redeem(customer_api, order_body(*lines))
    errors = assert_envelope(response, 422, "validation_error")["errors"]
    assert errors["line_items"] == ["Ensure this field has no more than 100 elements."]
    assert redeem(customer_api, order_body(*lines[:100])).status_code == 201


def test_more_than_1000_vouchers_is_422_but_unmatched_units_do_not_count(customer_api, catalog):
    response = redeem(
        customer_api, order_body(("BIGCITY Seeds", 600, 1), ("BIGCITY Oats - All Variants", 401, 1))
    )
    errors = assert_envelope(response, 422, "validation_error")["errors"]
    assert "1001" in errors["line_items"][0]
    assert not Order.objects.exists()

    ok = redeem(customer_api, order_body(("BIGCITY Seeds", 1000, 1), ("UNMAPPED", 10_000, 1)))
    assert ok.status_code == 201
    assert len(ok.json()["vouchers"]) == 1000


def test_an_oversized_body_is_413(customer_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = order_body(("X" * 200, 1, 1), order_reference="R")
    body["padding"] = "x" * 20_000
    assert_envelope(redeem(customer_api, body), 413, "request_too_large")


def test_a_company_token_or_no_token_is_refused(company_api, api):
    assert_envelope(redeem(company_api, EXAMPLE_BODY), 401, "invalid_token")
    assert_envelope(redeem(api, EXAMPLE_BODY), 401, "not_authenticated")


def test_nothing_ever_leaks_a_trace(customer_api):
    for raw in ['{"line_items": [null]}', '{"order_total": NaN}', '{"order_total": 1e999}']:
        response = customer_api.generic("POST", URL, raw, content_type="application/json")
        assert response.status_code in (400, 422), response.content
        assert "Traceback" not in json.dumps(response.json())
