from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from loyalty.models import PointsLedgerEntry
from orders import services
from orders.models import IdempotencyRecord, Order, Voucher
from rewards.models import StockMovement
from rewards.services import reward_stock_adjust
from tests.conftest import assert_envelope
from tests.factories import CustomerFactory, reward_with_sku
from tests.orders.conftest import EXAMPLE_BODY, client_for, order_body, redeem

pytestmark = pytest.mark.django_db


def test_a_replay_returns_the_first_answer_and_creates_nothing(customer_api, customer, catalog):
    first = redeem(customer_api, EXAMPLE_BODY, key="key-1")
    replay = redeem(customer_api, EXAMPLE_BODY, key="key-1")

    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true" and not first.has_header("Idempotent-Replayed")
    assert Order.objects.count() == 1 and Voucher.objects.count() == 3
    assert PointsLedgerEntry.objects.filter(customer=customer).count() == 1
    record = IdempotencyRecord.objects.get()
    assert (record.key, record.scope, record.response_status) == ("key-1", "order_redeem_skus", 201)


def test_the_same_request_spelt_differently_is_a_replay(customer_api, catalog):
    first = redeem(customer_api, EXAMPLE_BODY, key="k")
    same = {
        **EXAMPLE_BODY,
        "order_total": "1500.00",
        "order_timestamp": "2025-10-13T19:42:36Z",
        "ignored": "field",
    }
    assert redeem(customer_api, same, key="k").json() == first.json()
    assert Order.objects.count() == 1


def test_the_same_key_with_another_body_is_422(customer_api, catalog):
    redeem(customer_api, EXAMPLE_BODY, key="k")
    other = {**EXAMPLE_BODY, "order_reference": "POS-OTHER"}

    body = assert_envelope(redeem(customer_api, other, key="k"), 422, "idempotency_key_reused")
    assert "Idempotency-Key" in body["errors"]
    assert Order.objects.count() == 1


def test_another_customer_reusing_a_key_never_gets_the_first_customers_order(
    customer_api, tenant, catalog
):
    redeem(customer_api, EXAMPLE_BODY, key="k")
    stranger = client_for(tenant.customer_token(CustomerFactory(company=tenant.company)))
    assert_envelope(redeem(stranger, EXAMPLE_BODY, key="k"), 422, "idempotency_key_reused")


def test_keys_are_scoped_to_the_company(customer_api, other_tenant, catalog):
    body = {k: v for k, v in EXAMPLE_BODY.items() if k != "order_reference"}
    redeem(customer_api, body, key="shared")
    other = client_for(other_tenant.customer_token(CustomerFactory(company=other_tenant.company)))

    assert redeem(other, body, key="shared").status_code == 201
    assert Order.objects.count() == 2


def test_key_length_is_checked(customer_api, catalog):
    response = redeem(customer_api, EXAMPLE_BODY, key="k" * 256)
    assert "Idempotency-Key" in assert_envelope(response, 422, "validation_error")["errors"]
    assert not Order.objects.exists()
    assert redeem(customer_api, EXAMPLE_BODY, key="k" * 255).status_code == 201


def test_a_refusal_that_depends_on_the_database_is_stored_and_replayed(customer_api, tenant):
    reward = reward_with_sku(tenant.company, "ONE LEFT", qty=1)
    body = order_body(("ONE LEFT", 2, 10))
    first = redeem(customer_api, body, key="k")
    assert_envelope(first, 422, "out_of_stock")

    reward_stock_adjust(reward=reward, delta=5, note="restock")
    replay = redeem(customer_api, body, key="k")

    assert replay.status_code == 422 and replay.json() == first.json()
    assert not Order.objects.exists()
    assert IdempotencyRecord.objects.get().response_status == 422


def test_a_validation_error_is_not_stored_so_the_fixed_body_can_use_the_key(customer_api, catalog):
    wrong = {**EXAMPLE_BODY, "order_total": 1499}
    assert_envelope(redeem(customer_api, wrong, key="k"), 422, "validation_error")
    assert not IdempotencyRecord.objects.exists()

    assert redeem(customer_api, EXAMPLE_BODY, key="k").status_code == 201


def test_an_unexpected_failure_frees_the_key(customer_api, customer, catalog, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "points_earn", broken)
    assert_envelope(redeem(customer_api, EXAMPLE_BODY, key="k"), 500, "internal_error")
    assert not IdempotencyRecord.objects.exists() and not Order.objects.exists()
    assert not StockMovement.objects.exists()

    monkeypatch.undo()
    assert redeem(customer_api, EXAMPLE_BODY, key="k").status_code == 201


# --- retention ----------------------------------------------------------------------------


def _record(tenant, key: str, age: dt.timedelta) -> IdempotencyRecord:
    record = IdempotencyRecord.objects.create(
        company=tenant.company,
        key=key,
        scope="order_redeem_skus",
        request_hash="x",
        response_status=201,
        response_body={},
    )
    IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=timezone.now() - age)
    return record


def test_purge_deletes_only_records_past_the_cut_off(tenant):
    _record(tenant, "old", dt.timedelta(hours=49))
    _record(tenant, "day-old", dt.timedelta(hours=25))
    _record(tenant, "fresh", dt.timedelta(hours=1))

    out = StringIO()
    call_command("purge_idempotency_keys", stdout=out)

    assert "Deleted 1" in out.getvalue()
    assert set(IdempotencyRecord.objects.values_list("key", flat=True)) == {"day-old", "fresh"}
    assert services.idempotency_records_purge(older_than=dt.timedelta(hours=24), batch_size=1) == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]


def test_purge_refuses_to_keep_keys_less_than_a_day(tenant):
    with pytest.raises(CommandError, match="24"):
        call_command("purge_idempotency_keys", "--hours", "12", stdout=StringIO())
    with pytest.raises(ValueError):
        services.idempotency_records_purge(older_than=dt.timedelta(hours=23))
