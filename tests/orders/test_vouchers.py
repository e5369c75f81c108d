from __future__ import annotations

import math

import pytest

from orders import services
from orders.models import Order, Voucher
from rewards.models import PoolCode, Reward
from tests.conftest import assert_envelope
from tests.factories import PoolCodeFactory, reward_with_sku
from tests.orders.conftest import order_body, redeem

pytestmark = pytest.mark.django_db


def test_generated_codes_use_the_alphabet_without_look_alikes_and_carry_60_bits():
    alphabet = services.VOUCHER_CODE_ALPHABET
    assert not set(alphabet) & set("01ILO")
    assert len(set(alphabet)) == len(alphabet) == 31
    assert services.VOUCHER_CODE_LENGTH * math.log2(len(alphabet)) >= 60
    codes = {services.voucher_code_generate() for _ in range(5_000)}
    assert len(codes) == 5_000
    assert all(len(c) == 13 and set(c) <= set(alphabet) for c in codes)


def test_codes_of_an_order_are_unique(customer_api, tenant):
    reward_with_sku(tenant.company, "MANY")
    body = redeem(customer_api, order_body(("MANY", 500, 1))).json()
    codes = [v["code"] for v in body["vouchers"]]
    assert len(codes) == len(set(codes)) == 500
    assert Voucher.objects.values("code").distinct().count() == 500


def test_a_code_collision_is_retried_with_fresh_codes(customer_api, tenant, monkeypatch):
    reward_with_sku(tenant.company, "GEN")
    first = redeem(customer_api, order_body(("GEN", 1, 1))).json()["vouchers"][0]["code"]

    real = services.voucher_code_generate
    drawn = iter([first])  # the first draw repeats an existing code

    def generator() -> str:
        return next(drawn, None) or real()

    monkeypatch.setattr(services, "voucher_code_generate", generator)
    response = redeem(customer_api, order_body(("GEN", 2, 1)))

    assert response.status_code == 201, response.content
    codes = [v["code"] for v in response.json()["vouchers"]]
    assert first not in codes and len(set(codes)) == 2
    assert Voucher.objects.count() == 3


def test_a_generator_that_keeps_colliding_fails_cleanly(customer_api, tenant, monkeypatch):
    reward = reward_with_sku(tenant.company, "GEN", qty=5)
    first = redeem(customer_api, order_body(("GEN", 1, 1))).json()["vouchers"][0]["code"]
    monkeypatch.setattr(services, "voucher_code_generate", lambda: first)

    response = redeem(customer_api, order_body(("GEN", 1, 1)))

    assert_envelope(response, 500, "internal_error")
    assert Order.objects.count() == 1
    reward.refresh_from_db()
    assert reward.qty == 4  # the second order's stock was given back by the rollback


def test_pool_rewards_hand_out_pool_codes_once(customer_api, tenant):
    reward = reward_with_sku(tenant.company, "POOLED", fulfilment=Reward.Fulfilment.POOL)
    PoolCodeFactory.create_batch(3, reward=reward)

    body = redeem(customer_api, order_body(("POOLED", 2, 1))).json()

    codes = [v["code"] for v in body["vouchers"]]
    pool = PoolCode.objects.filter(reward=reward).order_by("id")
    assert codes == [c.code for c in pool[:2]]  # handed out in pool order
    assert [c.assigned_at is not None for c in pool] == [True, True, False]
    assert all(v["status"] == "issued" for v in body["vouchers"])

    # One code left: an order for two is out of stock, and takes nothing.
    response = redeem(customer_api, order_body(("POOLED", 2, 1)))
    assert assert_envelope(response, 422, "out_of_stock")["skus"] == ["POOLED"]
    assert PoolCode.objects.filter(reward=reward, assigned_at__isnull=True).count() == 1


def test_vendor_rewards_give_pending_vouchers_and_a_pending_order(
    customer_api, tenant, catalog, monkeypatch, django_capture_on_commit_callbacks
):
    reward_with_sku(tenant.company, "VENDOR", fulfilment=Reward.Fulfilment.VENDOR, validity_days=30)
    enqueued: list[list[int]] = []
    monkeypatch.setattr(services, "enqueue_voucher_fulfilment", enqueued.append)

    with django_capture_on_commit_callbacks(execute=True):
        response = redeem(customer_api, order_body(("VENDOR", 2, 5), ("BIGCITY Seeds", 1, 5)))

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "pending"
    pending = [v for v in body["vouchers"] if v["sku"] == "VENDOR"]
    assert [(v["status"], v["code"], v["valid_till"]) for v in pending] == [
        ("pending", None, None),
        ("pending", None, None),
    ]
    assert [v["status"] for v in body["vouchers"] if v["sku"] == "BIGCITY Seeds"] == ["issued"]
    pending_ids = list(
        Voucher.objects.filter(status="pending", issued_at__isnull=True).values_list(
            "pk", flat=True
        )
    )
    assert enqueued == [pending_ids]
    assert Order.objects.get().status == "pending"


def test_no_fulfilment_is_enqueued_when_the_order_fails(
    customer_api, tenant, monkeypatch, django_capture_on_commit_callbacks
):
    reward_with_sku(tenant.company, "VENDOR", fulfilment=Reward.Fulfilment.VENDOR)
    reward_with_sku(tenant.company, "SHORT", qty=0, status=Reward.Status.INACTIVE)
    enqueued: list[list[int]] = []
    monkeypatch.setattr(services, "enqueue_voucher_fulfilment", enqueued.append)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = redeem(customer_api, order_body(("VENDOR", 1, 5), ("SHORT", 1, 5)))

    assert_envelope(response, 422, "out_of_stock")
    assert callbacks == [] and enqueued == []
