"""The fulfilment services without a worker: one attempt at a time against the simulated vendor,
and eager mode (the embedded default, no broker), where tasks run inline after commit.

`voucher_fulfil` refuses to run inside a transaction (it must never hold a lock across the vendor
call), so these tests are transactional, like the code they test."""

from __future__ import annotations

import datetime as dt
import logging
import time
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from loyalty.models import PointsLedgerEntry
from orders.fulfilment import (
    FulfilResult,
    order_status_refresh,
    voucher_fulfil,
    voucher_retry_delay,
    vouchers_enqueue,
    vouchers_pending_sweep,
)
from orders.models import Order, Voucher
from orders.tasks import fulfil_voucher, idempotency_keys_purge
from orders.vendor_client import VendorError, vendor_voucher_request
from rewards.models import StockMovement, Vendor
from tests.background.conftest import VENDOR_API_KEY, pending_voucher, vendor_reward
from tests.orders.conftest import order_body, redeem

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def reward(tenant, vendor):
    return vendor_reward(tenant.company, vendor, qty=5)


def _fulfil(voucher: Voucher) -> tuple[FulfilResult, Voucher]:
    result = voucher_fulfil(voucher_id=voucher.pk)
    voucher.refresh_from_db()
    return result, voucher


# --- The vendor client ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "transient", "reason"),
    [
        ("500", True, "vendor answered HTTP 500"),
        ("429", True, "vendor answered HTTP 429"),
        ("drop", True, "vendor connection failed (RemoteProtocolError)"),
        ("400", False, "vendor refused: HTTP 400"),
        ("no_voucher", False, "vendor answered 200 without a voucher"),
    ],
)
def test_the_vendor_client_sorts_failures_into_transient_and_permanent(
    vendor, vendor_sim, outcome, transient, reason
):
    vendor_sim.script(outcome)

    with pytest.raises(VendorError) as caught:
        vendor_voucher_request(
            vendor=vendor, reference="client-test", product_code="P", denomination=Decimal("10")
        )

    assert (caught.value.transient, caught.value.reason) == (transient, reason)
    if outcome == "429":
        assert caught.value.retry_after == 1.0


def test_every_vendor_call_has_a_timeout(vendor, vendor_sim):
    vendor.timeout_seconds = Decimal("0.3")
    vendor_sim.script("slow", slow_seconds=1.5)

    started = time.monotonic()
    with pytest.raises(VendorError, match=r"timed out after 0\.3s") as caught:
        vendor_voucher_request(
            vendor=vendor, reference="client-test", product_code="P", denomination=Decimal("10")
        )

    assert caught.value.transient and time.monotonic() - started < 1.2


def test_an_unreachable_vendor_is_a_transient_failure(vendor):
    vendor.base_url = "http://127.0.0.1:9"  # discard port: nothing listens

    with pytest.raises(VendorError, match="connection failed") as caught:
        vendor_voucher_request(
            vendor=vendor, reference="client-test", product_code="P", denomination=Decimal("10")
        )
    assert caught.value.transient


# --- One attempt ------------------------------------------------------------------------------


def test_a_voucher_gets_the_vendors_code_and_its_order_is_fulfilled(
    tenant, customer, reward, vendor_sim
):
    order = Order.objects.create(
        company=tenant.company,
        customer=customer,
        order_timestamp=timezone.now(),
        order_total=5,
        order_items=1,
        status="pending",
    )
    voucher = pending_voucher(reward=reward, customer=customer, order=order)

    result, voucher = _fulfil(voucher)

    assert result.outcome == "issued"
    assert voucher.status == "issued" and voucher.issued_at is not None
    assert voucher.code == vendor_sim.state.issued[str(voucher.pk)]
    assert vendor_sim.calls[0]["auth"] == f"Bearer {VENDOR_API_KEY}"
    order.refresh_from_db()
    assert order.status == "fulfilled"


def test_points_held_for_a_voucher_are_captured_when_it_is_issued(customer, reward, vendor_sim):
    voucher = pending_voucher(reward=reward, customer=customer, points=30)

    result, voucher = _fulfil(voucher)

    assert result.outcome == "issued"
    capture = PointsLedgerEntry.objects.get(customer=customer, kind="capture")
    assert (capture.points, capture.held, capture.reference) == (-30, -30, f"voucher:{voucher.pk}")
    customer.refresh_from_db()
    assert (customer.points_balance, customer.points_held) == (70, 0)


def test_a_transient_failure_with_attempts_left_asks_for_a_retry(customer, reward, vendor_sim):
    vendor_sim.script("500")
    voucher = pending_voucher(reward=reward, customer=customer)

    result, voucher = _fulfil(voucher)

    assert result.outcome == "retry" and 0.5 <= result.retry_in <= 1.0  # base 1 s, jittered
    assert voucher.status == "pending" and voucher.fulfilment_attempts == 1
    assert voucher.failure_reason == "vendor answered HTTP 500"
    assert voucher.last_attempt_at is not None


def test_the_last_transient_failure_fails_the_voucher_and_gives_everything_back(
    customer, reward, vendor_sim
):
    vendor_sim.script(default="429")
    voucher = pending_voucher(reward=reward, customer=customer, points=25)

    outcomes = [_fulfil(voucher)[0].outcome for _ in range(3)]  # 1 + max_retries (2)

    voucher.refresh_from_db()
    reward.refresh_from_db()
    assert outcomes == ["retry", "retry", "failed"]
    assert voucher.status == "failed"
    assert voucher.failure_reason == "gave up after 3 attempts: vendor answered HTTP 429"
    assert reward.qty == 5
    assert (
        StockMovement.objects.filter(reward=reward, reason="voucher_failed", delta=1).count() == 1
    )
    assert PointsLedgerEntry.objects.filter(customer=customer, kind="release", held=-25).exists()


def test_a_permanent_failure_is_not_retried(customer, reward, vendor_sim):
    vendor_sim.script("no_voucher")
    voucher = pending_voucher(reward=reward, customer=customer)

    result, voucher = _fulfil(voucher)

    assert result.outcome == "failed" and len(vendor_sim.calls) == 1
    assert voucher.failure_reason == "vendor answered 200 without a voucher"


def test_a_voucher_no_longer_pending_is_left_alone_without_a_vendor_call(
    customer, reward, vendor_sim
):
    voucher = pending_voucher(reward=reward, customer=customer)
    _fulfil(voucher)
    code = Voucher.objects.get(pk=voucher.pk).code

    result, voucher = _fulfil(voucher)  # a redelivered or duplicate task

    assert result.outcome == "skipped" and voucher.code == code
    assert len(vendor_sim.calls) == 1
    assert voucher_fulfil(voucher_id=10**9).outcome == "skipped"  # a deleted voucher


def test_attempts_used_up_by_dead_workers_fail_the_voucher_without_another_call(
    customer, reward, vendor_sim
):
    voucher = pending_voucher(reward=reward, customer=customer)
    Voucher.objects.filter(pk=voucher.pk).update(fulfilment_attempts=3)  # 1 + max_retries

    result, voucher = _fulfil(voucher)

    assert result.outcome == "failed" and vendor_sim.calls == []
    assert voucher.failure_reason == "gave up after 3 attempts without an answer"


def test_an_inactive_vendor_leaves_the_voucher_pending_uncounted(
    customer, reward, vendor, vendor_sim
):
    Vendor.objects.filter(pk=vendor.pk).update(is_active=False)
    voucher = pending_voucher(reward=reward, customer=customer)

    result, voucher = _fulfil(voucher)

    assert result.outcome == "deferred" and vendor_sim.calls == []
    assert (voucher.status, voucher.fulfilment_attempts) == ("pending", 0)


def test_a_vendor_code_already_held_by_another_voucher_fails_cleanly(
    tenant, customer, reward, vendor_sim, caplog
):
    voucher = pending_voucher(reward=reward, customer=customer)
    # Another voucher already holds the code the vendor is about to return for this one.
    vendor_sim.state.issued[str(voucher.pk)] = "TAKEN-CODE"
    Voucher.objects.create(
        company=tenant.company,
        customer=customer,
        reward=reward,
        code="TAKEN-CODE",
        denomination_value=10,
    )

    with caplog.at_level(logging.INFO):
        result, voucher = _fulfil(voucher)

    assert result.outcome == "failed"
    assert (voucher.status, voucher.code) == ("failed", None)
    assert voucher.failure_reason == "vendor returned a code already used by another voucher"
    reward.refresh_from_db()
    assert reward.qty == 5
    assert "TAKEN-CODE" not in caplog.text


def test_a_reward_without_a_vendor_fails_its_vouchers(tenant, customer, vendor_sim):
    reward = vendor_reward(tenant.company, vendor=None, sku="NOVENDOR")
    voucher = pending_voucher(reward=reward, customer=customer)

    result, voucher = _fulfil(voucher)

    assert result.outcome == "failed" and vendor_sim.calls == []
    assert "no vendor" in voucher.failure_reason


def test_the_vendor_is_never_called_inside_a_transaction(customer, reward, vendor_sim):
    voucher = pending_voucher(reward=reward, customer=customer)

    with pytest.raises(RuntimeError, match="outside transactions"), transaction.atomic():
        voucher_fulfil(voucher_id=voucher.pk)
    assert vendor_sim.calls == []


def test_neither_the_api_key_nor_the_code_reaches_the_logs(customer, reward, vendor_sim, caplog):
    vendor_sim.script("500")
    voucher = pending_voucher(reward=reward, customer=customer)

    with caplog.at_level(logging.DEBUG):
        _fulfil(voucher)
        _fulfil(voucher)

    voucher.refresh_from_db()
    assert voucher.status == "issued"
    assert VENDOR_API_KEY not in caplog.text and voucher.code not in caplog.text


def test_order_status_follows_its_vouchers(tenant, customer, reward):
    order = Order.objects.create(
        company=tenant.company,
        customer=customer,
        order_timestamp=timezone.now(),
        order_total=5,
        order_items=3,
        status="pending",
    )
    vouchers = [pending_voucher(reward=reward, customer=customer, order=order) for _ in range(3)]

    def refresh(*statuses: str) -> str:
        for voucher, status in zip(vouchers, statuses, strict=True):
            Voucher.objects.filter(pk=voucher.pk).update(status=status)
        with transaction.atomic():
            return order_status_refresh(order_id=order.pk)

    assert refresh("issued", "pending", "failed") == "pending"
    assert refresh("issued", "expired", "redeemed") == "fulfilled"
    assert refresh("issued", "failed", "failed") == "partially_fulfilled"
    assert refresh("failed", "failed", "failed") == "failed"
    assert Order.objects.get(pk=order.pk).status == "failed"


# --- Backoff ----------------------------------------------------------------------------------


def test_retry_delays_double_from_the_base_with_jitter_and_a_cap():
    vendor = Vendor(backoff_base_seconds=5, backoff_max_seconds=300)

    delays = {
        attempt: [voucher_retry_delay(vendor=vendor, attempt=attempt) for _ in range(200)]
        for attempt in (1, 2, 3, 10)
    }

    for attempt, expected in ((1, 5), (2, 10), (3, 20), (10, 300)):
        values = delays[attempt]
        assert expected / 2 <= min(values) and max(values) <= expected
        assert len(set(values)) > 100  # jittered
    with override_settings(VOUCHER_RETRY_DELAY_MAX=60):
        assert voucher_retry_delay(vendor=vendor, attempt=10) <= 60  # the global cap wins
    assert voucher_retry_delay(vendor=vendor, attempt=1, retry_after=30) == 30  # Retry-After
    assert voucher_retry_delay(vendor=vendor, attempt=1, retry_after=9999) == 300


# --- Eager mode (the embedded default: no broker, tasks inline after commit) ------------------


def test_eager_mode_fulfils_inline_after_the_order_commits(
    tenant, customer_api, vendor, vendor_sim
):
    vendor_reward(tenant.company, vendor)

    response = redeem(customer_api, order_body(("GIFTCARD", 1, 5)))

    assert response.status_code == 201
    # The answer was rendered before the commit (pending); the task ran right after it.
    assert response.json()["vouchers"][0]["status"] == "pending"
    voucher = Voucher.objects.get()
    assert voucher.status == "issued" and voucher.code == vendor_sim.state.issued[str(voucher.pk)]
    assert voucher.enqueued_at is not None
    assert Order.objects.get().status == "fulfilled"


def test_eager_mode_tries_once_and_leaves_retries_to_the_sweep(
    tenant, customer_api, vendor, vendor_sim
):
    vendor_reward(tenant.company, vendor)
    vendor_sim.script("500", default="ok")

    started = time.monotonic()
    response = redeem(customer_api, order_body(("GIFTCARD", 1, 5)))

    assert response.status_code == 201 and time.monotonic() - started < 1  # no inline backoff
    voucher = Voucher.objects.get()
    assert (voucher.status, voucher.fulfilment_attempts) == ("pending", 1)

    # Not yet due for the sweep...
    assert vouchers_pending_sweep() == []
    # ...until it has been quiet for VOUCHER_PENDING_SWEEP_AFTER.
    long_ago = timezone.now() - dt.timedelta(minutes=5)
    Voucher.objects.filter(pk=voucher.pk).update(enqueued_at=long_ago, last_attempt_at=long_ago)
    assert vouchers_pending_sweep() == [voucher.pk]

    voucher.refresh_from_db()
    assert voucher.status == "issued" and len(vendor_sim.calls) == 2


def test_a_broker_outage_at_enqueue_leaves_the_voucher_to_the_sweep(
    customer, reward, vendor_sim, monkeypatch
):
    from kombu.exceptions import OperationalError

    voucher = pending_voucher(reward=reward, customer=customer)
    other = pending_voucher(reward=reward, customer=customer)

    def down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to redis. Connection refused.")

    monkeypatch.setattr(fulfil_voucher, "apply_async", down)

    assert vouchers_enqueue(voucher_ids=[voucher.pk, other.pk]) == []  # no exception

    assert Voucher.objects.filter(enqueued_at__isnull=True, status="pending").count() == 2
    assert vendor_sim.calls == []


def test_the_idempotency_purge_task_keeps_a_day_of_keys(tenant):
    from orders.models import IdempotencyRecord

    def record(key: str, hours_ago: int) -> None:
        rec = IdempotencyRecord.objects.create(
            company=tenant.company,
            key=key,
            scope="s",
            request_hash="h",
            response_status=201,
            response_body={},
        )
        IdempotencyRecord.objects.filter(pk=rec.pk).update(
            created_at=timezone.now() - dt.timedelta(hours=hours_ago)
        )

    record("old", 72)
    record("recent", 30)
    record("new", 1)

    assert idempotency_keys_purge.delay().get() == 1
    assert sorted(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new", "recent"]
