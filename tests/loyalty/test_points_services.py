from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection, transaction

from config.api.errors import ApplicationError
from customers.models import Customer
from loyalty import services
from loyalty.models import PointsLedgerEntry
from loyalty.selectors import balances_from_ledger
from tests.factories import CustomerFactory


@pytest.mark.parametrize(
    ("amount", "rate", "points"),
    [("1500", "0.1", 150), ("99.99", "1", 99), ("10", "0.15", 1), ("0", "5", 0), ("7.5", "2", 15)],
)
def test_points_for_amount_rounds_down(amount, rate, points):
    assert services.points_for_amount(amount=Decimal(amount), rate=Decimal(rate)) == points


@pytest.mark.django_db
def test_every_change_writes_a_ledger_row_and_moves_the_counters():
    customer = CustomerFactory()
    with transaction.atomic():
        services.points_earn(customer=customer, points=100, reason="order", reference="ord_1")
        services.points_hold(customer=customer, points=30, reason="vendor", reference="v1")
        services.points_capture(customer=customer, points=30, reason="vendor ok", reference="v1")
        services.points_spend(customer=customer, points=20, reason="reward", reference="r1")
    customer.refresh_from_db()
    assert (customer.points_balance, customer.points_held) == (50, 0)
    kinds = list(PointsLedgerEntry.objects.order_by("id").values_list("kind", "points", "held"))
    assert kinds == [("earn", 100, 0), ("hold", 0, 30), ("capture", -30, -30), ("spend", -20, 0)]
    assert PointsLedgerEntry.objects.order_by("id").last().balance_after == 50


@pytest.mark.django_db
def test_spending_more_than_available_is_refused_and_writes_nothing():
    customer = CustomerFactory()
    services.points_earn(customer=customer, points=10, reason="order")
    services.points_hold(customer=customer, points=8, reason="vendor")
    with pytest.raises(ApplicationError) as err:
        services.points_spend(customer=customer, points=3, reason="reward")
    assert err.value.type == "insufficient_points"
    assert PointsLedgerEntry.objects.count() == 2
    customer.refresh_from_db()
    assert (customer.points_balance, customer.points_held) == (10, 8)


@pytest.mark.django_db
def test_adjustment_needs_a_reason():
    customer = CustomerFactory()
    with pytest.raises(ApplicationError):
        services.points_adjust(customer=customer, points=5, reason="  ")


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ledger_sums_equal_balances_after_a_random_run(seed):
    rng = random.Random(seed)
    customers = [CustomerFactory() for _ in range(3)]
    holds: dict[int, list[int]] = {c.pk: [] for c in customers}
    for _ in range(300):
        customer = rng.choice(customers)
        op = rng.choice(["earn", "spend", "hold", "capture", "release", "adjust"])
        amount = rng.randint(1, 60)
        try:
            if op == "earn":
                services.points_earn(customer=customer, points=amount, reason="order")
            elif op == "spend":
                services.points_spend(customer=customer, points=amount, reason="reward")
            elif op == "hold":
                services.points_hold(customer=customer, points=amount, reason="vendor")
                holds[customer.pk].append(amount)
            elif op in ("capture", "release") and holds[customer.pk]:
                held = holds[customer.pk].pop(rng.randrange(len(holds[customer.pk])))
                fn = services.points_capture if op == "capture" else services.points_release
                fn(customer=customer, points=held, reason="vendor answered")
            elif op == "adjust":
                services.points_adjust(
                    customer=customer, points=rng.choice([-1, 1]) * amount, reason="staff"
                )
        except ApplicationError as exc:
            assert exc.type == "insufficient_points"
    for customer in customers:
        customer.refresh_from_db()
        assert customer.points_balance >= 0 and 0 <= customer.points_held <= customer.points_balance
        assert balances_from_ledger(customer=customer) == (
            customer.points_balance,
            customer.points_held,
        )
        assert customer.points_held == sum(holds[customer.pk])


@pytest.mark.django_db(transaction=True)
def test_concurrent_spends_never_overdraw():
    customer = CustomerFactory()
    services.points_earn(customer=customer, points=100, reason="order")
    barrier = threading.Barrier(10)

    def spend(_):
        barrier.wait()
        try:
            services.points_spend(
                customer=Customer.objects.get(pk=customer.pk), points=30, reason="reward"
            )
            return True
        except ApplicationError:
            return False
        finally:
            connection.close()

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(spend, range(10)))
    assert results.count(True) == 3
    customer.refresh_from_db()
    assert customer.points_balance == 10
    assert balances_from_ledger(customer=customer) == (10, 0)
