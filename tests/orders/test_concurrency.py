"""Race tests on PostgreSQL: real threads, each with its own connection, released together."""

from __future__ import annotations

import threading
import time
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection, transaction

from loyalty.models import PointsLedgerEntry
from orders import services
from orders.models import IdempotencyRecord, Order, Voucher
from rewards.models import PoolCode, Reward, StockMovement
from tests.conftest import assert_envelope
from tests.factories import CustomerFactory, PoolCodeFactory, reward_with_sku
from tests.orders.conftest import client_for, order_body, redeem, run_concurrently

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _post(token: str, body: dict, key: str | None = None):
    def call():
        response = redeem(client_for(token), body, key=key)
        return response.status_code, response.json()

    return call


def test_200_concurrent_redemptions_against_a_stock_of_50_issue_exactly_50(tenant):
    reward = reward_with_sku(tenant.company, "HOT ITEM", qty=50)
    customers = CustomerFactory.create_batch(200, company=tenant.company)
    body = order_body(("HOT ITEM", 1, 100))

    answers = run_concurrently([_post(tenant.customer_token(c), body) for c in customers])

    statuses = Counter(status for status, _ in answers)
    assert statuses == {201: 50, 422: 150}, statuses
    refusals = [b for s, b in answers if s == 422]
    assert all(b["type"] == "out_of_stock" and b["skus"] == ["HOT ITEM"] for b in refusals)
    reward.refresh_from_db()
    assert (reward.qty, reward.status) == (0, Reward.Status.INACTIVE)
    assert Voucher.objects.filter(reward=reward).count() == 50
    assert Order.objects.count() == 50
    movements = StockMovement.objects.filter(reward=reward)
    assert movements.count() == 50
    assert sorted(m.qty_after for m in movements) == list(range(50))
    assert PointsLedgerEntry.objects.count() == 50


def test_20_concurrent_requests_with_one_key_make_one_order(tenant, customer):
    reward = reward_with_sku(tenant.company, "KEYED", qty=100)
    body = order_body(("KEYED", 2, 50), order_reference="POS-1")
    token = tenant.customer_token(customer)

    def call():
        response = redeem(client_for(token), body, key="same-key")
        return response.status_code, response.json(), response.has_header("Idempotent-Replayed")

    answers = run_concurrently([call for _ in range(20)])

    assert {status for status, _, _ in answers} == {201}
    assert all(b == answers[0][1] for _, b, _ in answers)
    assert sum(replayed for _, _, replayed in answers) == 19
    assert Order.objects.count() == 1 and IdempotencyRecord.objects.count() == 1
    assert Voucher.objects.count() == 2
    reward.refresh_from_db()
    assert reward.qty == 98
    customer.refresh_from_db()
    assert customer.points_balance == 10


def test_an_order_whose_second_reward_is_short_takes_nothing_from_the_first(tenant):
    first = reward_with_sku(tenant.company, "FIRST", qty=100)
    second = reward_with_sku(tenant.company, "SECOND", qty=5)
    customers = CustomerFactory.create_batch(10, company=tenant.company)
    body = order_body(("FIRST", 1, 10), ("SECOND", 2, 10))

    answers = run_concurrently([_post(tenant.customer_token(c), body) for c in customers])

    statuses = Counter(status for status, _ in answers)
    assert statuses == {201: 2, 422: 8}, statuses
    assert all(b["skus"] == ["SECOND"] for s, b in answers if s == 422)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.qty, second.qty) == (98, 1)  # only the two successful orders took stock
    assert StockMovement.objects.filter(reward=first).count() == 2
    assert Voucher.objects.filter(reward=first).count() == 2


def test_opposite_line_orders_never_deadlock(tenant):
    a = reward_with_sku(tenant.company, "A", qty=1_000)
    b = reward_with_sku(tenant.company, "B", qty=1_000)
    one, two = CustomerFactory.create_batch(2, company=tenant.company)
    forward = order_body(("A", 1, 10), ("B", 1, 10))
    backward = order_body(("B", 1, 10), ("A", 1, 10))
    rounds = 30

    statuses: Counter = Counter()
    for _ in range(rounds):
        answers = run_concurrently(
            [
                _post(tenant.customer_token(one), forward),
                _post(tenant.customer_token(two), backward),
            ]
        )
        statuses.update(status for status, _ in answers)

    assert statuses == {201: 2 * rounds}, statuses
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.qty, b.qty) == (1_000 - 2 * rounds, 1_000 - 2 * rounds)


def test_opposite_line_orders_at_the_edge_of_stock_fail_cleanly(tenant):
    reward_with_sku(tenant.company, "A", qty=15)
    reward_with_sku(tenant.company, "B", qty=15)
    customers = CustomerFactory.create_batch(40, company=tenant.company)
    bodies = [order_body(("A", 1, 10), ("B", 1, 10)), order_body(("B", 1, 10), ("A", 1, 10))]

    answers = run_concurrently(
        [_post(tenant.customer_token(c), bodies[i % 2]) for i, c in enumerate(customers)]
    )

    assert Counter(status for status, _ in answers) == {201: 15, 422: 25}
    assert set(Reward.objects.values_list("qty", flat=True)) == {0}


def test_pool_codes_are_never_handed_out_twice(tenant):
    reward = reward_with_sku(tenant.company, "POOLED", fulfilment=Reward.Fulfilment.POOL)
    PoolCodeFactory.create_batch(30, reward=reward)
    customers = CustomerFactory.create_batch(40, company=tenant.company)
    body = order_body(("POOLED", 1, 10))

    answers = run_concurrently([_post(tenant.customer_token(c), body) for c in customers])

    assert Counter(status for status, _ in answers) == {201: 30, 422: 10}
    codes = [b["vouchers"][0]["code"] for s, b in answers if s == 201]
    assert len(set(codes)) == 30
    assert set(codes) == set(PoolCode.objects.values_list("code", flat=True))
    assert not PoolCode.objects.filter(assigned_at__isnull=True).exists()


def test_concurrent_orders_with_one_reference_make_one_order(tenant):
    reward_with_sku(tenant.company, "REF", qty=100)
    customers = CustomerFactory.create_batch(10, company=tenant.company)
    body = order_body(("REF", 1, 10), order_reference="POS-RACE")

    answers = run_concurrently([_post(tenant.customer_token(c), body) for c in customers])

    statuses = Counter(status for status, _ in answers)
    assert statuses == {201: 1, 422: 9}, statuses
    assert {b["type"] for s, b in answers if s == 422} == {"duplicate_order_reference"}
    assert Order.objects.count() == 1
    assert Reward.objects.get().qty == 99
    assert Decimal(Order.objects.get().order_total) == Decimal(10)


def test_a_repeat_stuck_behind_a_long_first_request_answers_409(tenant, customer, monkeypatch):
    """The first request holds the key (an uncommitted record) longer than the repeat will wait;
    the repeat answers 409 request_in_progress. Once the first gives the key up, it runs."""
    reward_with_sku(tenant.company, "SLOW", qty=10)
    monkeypatch.setattr(services, "IDEMPOTENCY_WAIT", "300ms")
    holding, release = threading.Event(), threading.Event()

    def first_request_holding_the_key():
        try:
            with transaction.atomic():
                IdempotencyRecord.objects.create(
                    company=tenant.company,
                    key="slow-key",
                    scope=services.IDEMPOTENCY_SCOPE_REDEEM,
                    request_hash="x",
                    response_status=0,
                    response_body={},
                )
                holding.set()
                release.wait(timeout=30)
                transaction.set_rollback(True)  # as if the first request crashed
        finally:
            connection.close()

    holder = threading.Thread(target=first_request_holding_the_key)
    holder.start()
    try:
        assert holding.wait(timeout=10)
        body = order_body(("SLOW", 1, 10))
        started = time.monotonic()
        response = redeem(client_for(tenant.customer_token(customer)), body, key="slow-key")
        waited = time.monotonic() - started
        assert_envelope(response, 409, "request_in_progress")
        assert 0.25 < waited < 5
    finally:
        release.set()
        holder.join()

    response = redeem(client_for(tenant.customer_token(customer)), body, key="slow-key")
    assert response.status_code == 201
    assert Order.objects.count() == 1
