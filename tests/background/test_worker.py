"""Background work end to end: a real Redis broker, a real Celery worker (a subprocess started by
the fixtures), the simulated vendor on loopback, and orders placed over the Partner API."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time

import pytest
import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from loyalty.models import PointsLedgerEntry
from orders.models import Order, Voucher
from orders.services import enqueue_voucher_fulfilment
from orders.tasks import fulfil_voucher, vouchers_expire, vouchers_pending_sweep
from rewards.models import LowStockAlert, Reward, StockMovement
from tests.background.conftest import (
    VENDOR_API_KEY,
    pending_voucher,
    sent_mail,
    vendor_reward,
    wait_for,
)
from tests.conftest import make_tenant
from tests.factories import CustomerFactory, reward_with_sku
from tests.orders.conftest import client_for, order_body, redeem, run_concurrently

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _settled(voucher_id: int) -> Voucher | None:
    voucher = Voucher.objects.get(pk=voucher_id)
    return voucher if voucher.status != Voucher.Status.PENDING else None


def _order_one(customer_api, sku: str = "GIFTCARD", quantity: int = 1) -> dict:
    response = redeem(customer_api, order_body((sku, quantity, 5)))
    assert response.status_code == 201, response.content
    return response.json()


def test_a_vendor_reward_ordered_over_the_api_is_fulfilled_by_the_worker(
    live, tenant, customer_api, vendor, vendor_sim
):
    reward = vendor_reward(tenant.company, vendor, qty=5)

    body = _order_one(customer_api)

    assert body["status"] == "pending" and body["vouchers"][0]["code"] is None
    voucher = Voucher.objects.get()
    assert voucher.enqueued_at is not None
    wait_for(lambda: _settled(voucher.pk), what="the voucher to be settled")
    voucher.refresh_from_db()
    (call,) = vendor_sim.calls
    assert voucher.status == "issued"
    assert voucher.code == vendor_sim.state.issued[str(voucher.pk)]
    assert (voucher.valid_till, voucher.pin, voucher.fulfilment_attempts) == (
        dt.date(2027, 12, 31),
        "0000",
        1,
    )
    assert call["key"] == str(voucher.pk)
    assert call["auth"] == f"Bearer {VENDOR_API_KEY}"
    assert call["body"] == {
        "reference": str(voucher.pk),
        "product_code": reward.vendor_product_code,
        "denomination": "10.00",
    }
    assert Order.objects.get().status == "fulfilled"
    wire = customer_api.get(f"/v1/orders/{body['order_id']}").json()
    assert wire["status"] == "fulfilled"
    assert wire["vouchers"][0]["code"] == voucher.code
    assert VENDOR_API_KEY not in live.log()


def test_a_vendor_failing_twice_then_answering_gives_one_code_after_three_calls(
    live, tenant, customer_api, vendor, vendor_sim
):
    vendor_reward(tenant.company, vendor)
    vendor_sim.script("500", "500", default="ok")

    _order_one(customer_api)

    voucher = Voucher.objects.get()
    wait_for(lambda: _settled(voucher.pk), timeout=30, what="the voucher to be settled")
    voucher.refresh_from_db()
    assert [c["outcome"] for c in vendor_sim.calls] == ["500", "500", "ok"]
    assert {c["key"] for c in vendor_sim.calls} == {str(voucher.pk)}
    assert voucher.status == "issued" and voucher.code == vendor_sim.state.issued[str(voucher.pk)]
    assert voucher.fulfilment_attempts == 3 and voucher.failure_reason == ""
    assert Order.objects.get().status == "fulfilled"


def test_a_vendor_that_always_fails_ends_failed_with_stock_and_points_given_back(
    live, tenant, vendor, vendor_sim
):
    """A voucher paid with points (as the loyalty issue call makes them): points held, one unit
    of stock taken. The vendor answers 500 to every call."""
    vendor_sim.script(default="500")
    reward = vendor_reward(tenant.company, vendor, qty=5)
    customer = CustomerFactory(company=tenant.company)
    voucher = pending_voucher(reward=reward, customer=customer, points=40)

    # As the loyalty issue call does once its transaction commits.
    enqueue_voucher_fulfilment([voucher.pk])

    wait_for(lambda: _settled(voucher.pk), timeout=30, what="the voucher to be settled")
    voucher.refresh_from_db()
    customer.refresh_from_db()
    reward.refresh_from_db()
    assert voucher.status == "failed" and voucher.code is None
    assert voucher.failure_reason == "gave up after 3 attempts: vendor answered HTTP 500"
    assert len(vendor_sim.calls) == 3  # 1 + max_retries
    assert reward.qty == 5
    returned = StockMovement.objects.get(reward=reward, reason="voucher_failed")
    assert (returned.delta, returned.qty_after, returned.reference) == (
        1,
        5,
        f"voucher:{voucher.pk}",
    )
    release = PointsLedgerEntry.objects.get(customer=customer, kind="release")
    assert (release.points, release.held, release.reference) == (0, -40, f"voucher:{voucher.pk}")
    assert (customer.points_balance, customer.points_held) == (100, 0)


def test_an_order_whose_vendor_refuses_fails_and_gives_the_stock_back(
    live, tenant, customer_api, vendor, vendor_sim
):
    reward = vendor_reward(tenant.company, vendor, qty=5)
    vendor_sim.script("400", default="ok")

    _order_one(customer_api, quantity=2)

    wait_for(lambda: not Voucher.objects.filter(status="pending").exists(), what="both to settle")
    assert sorted(Voucher.objects.values_list("status", flat=True)) == ["failed", "issued"]
    assert Order.objects.get().status == "partially_fulfilled"
    reward.refresh_from_db()
    assert reward.qty == 4
    assert len(vendor_sim.calls) == 2  # a 4xx is not retried


def test_a_pool_process_killed_mid_call_is_redelivered_and_mints_one_code(
    live, tenant, customer_api, vendor, vendor_sim
):
    """SIGKILL the pool process while the vendor is slow: late acknowledgement and
    reject-on-worker-lost put the message back, another process runs it again, and the
    idempotency key makes the vendor return the code it minted for the first call."""
    vendor_reward(tenant.company, vendor)
    slow = 2.5
    vendor_sim.script("slow", default="ok", slow_seconds=slow)

    _order_one(customer_api)

    voucher = Voucher.objects.get()
    wait_for(lambda: vendor_sim.calls, what="the first vendor call")
    first_call_at = time.monotonic()
    (pid,) = wait_for(
        lambda: live.running_task_pids("orders.tasks.fulfil_voucher"),
        timeout=slow,
        what="the running task",
    )
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: _settled(voucher.pk), timeout=30, what="the redelivered task")

    voucher.refresh_from_db()
    # Let the first, slow call finish on the vendor's side too: it must not mint a second code.
    time.sleep(max(0.0, first_call_at + slow + 0.2 - time.monotonic()))
    assert voucher.status == "issued"
    assert len(vendor_sim.calls) == 2 and {c["key"] for c in vendor_sim.calls} == {str(voucher.pk)}
    assert vendor_sim.state.issued == {str(voucher.pk): voucher.code}  # one code minted
    assert voucher.fulfilment_attempts == 2


def test_a_killed_worker_is_recovered_by_the_sweep_with_one_code(
    live, tenant, customer_api, vendor, vendor_sim
):
    """The whole worker dies (SIGKILL, pool and all) mid-call. Its message stays unacknowledged
    in Redis until the visibility timeout; the sweep re-sends the voucher sooner, a new worker
    fulfils it, and the late redelivery of the old message is a no-op."""
    vendor_reward(tenant.company, vendor)
    vendor_sim.script("slow", default="ok", slow_seconds=2)

    _order_one(customer_api)
    voucher = Voucher.objects.get()
    wait_for(lambda: vendor_sim.calls, what="the first vendor call")
    live.kill()

    voucher.refresh_from_db()
    assert (voucher.status, voucher.fulfilment_attempts) == ("pending", 1)
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    assert broker.hlen("unacked") >= 1  # the message Redis would redeliver after the timeout

    live.start()
    # The voucher is swept once quiet for VOUCHER_PENDING_SWEEP_AFTER (2 s in the tests).
    wait_for(
        lambda: (
            time.time() - voucher.last_attempt_at.timestamp() > settings.VOUCHER_PENDING_SWEEP_AFTER
        ),
        what="the sweep threshold",
    )
    vouchers_pending_sweep.delay()
    wait_for(lambda: _settled(voucher.pk), what="the swept voucher")
    assert "sweep: re-sending 1 pending voucher(s)" in live.log()

    voucher.refresh_from_db()
    assert voucher.status == "issued" and voucher.fulfilment_attempts == 2
    assert vendor_sim.state.issued == {str(voucher.pk): voucher.code}
    assert [c["key"] for c in vendor_sim.calls] == [str(voucher.pk)] * 2

    # The old message, redelivered at last (sent again here): nothing changes, no vendor call.
    fulfil_voucher.delay(voucher.pk)
    time.sleep(1)
    assert len(vendor_sim.calls) == 2
    assert Voucher.objects.get(pk=voucher.pk).code == voucher.code
    broker.close()


def test_a_dropped_message_is_recovered_by_the_sweep(
    live, tenant, customer_api, vendor, vendor_sim, monkeypatch
):
    from orders import services

    vendor_reward(tenant.company, vendor)
    monkeypatch.setattr(services, "enqueue_voucher_fulfilment", lambda ids: None)  # lost

    _order_one(customer_api)
    voucher = Voucher.objects.get()
    time.sleep(settings.VOUCHER_PENDING_SWEEP_AFTER + 0.2)
    assert vendor_sim.calls == [] and Voucher.objects.get(pk=voucher.pk).enqueued_at is None

    vouchers_pending_sweep.delay()
    wait_for(lambda: _settled(voucher.pk), what="the swept voucher")

    voucher.refresh_from_db()
    assert voucher.status == "issued" and voucher.enqueued_at is not None
    assert len(vendor_sim.calls) == 1
    assert Order.objects.get().status == "fulfilled"


def test_an_enqueue_in_a_rolled_back_transaction_sends_nothing(
    live, tenant, customer_api, vendor, vendor_sim, monkeypatch
):
    vendor_reward(tenant.company, vendor)
    sent: list = []
    real_apply_async = fulfil_voucher.apply_async

    def spy(*args, **kwargs):
        sent.append(args)
        return real_apply_async(*args, **kwargs)

    monkeypatch.setattr(fulfil_voucher, "apply_async", spy)
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)

    with pytest.raises(RuntimeError, match="roll back"), transaction.atomic():
        _order_one(customer_api)
        raise RuntimeError("roll back")

    time.sleep(0.5)
    assert sent == [] and broker.llen("celery") == 0
    assert not Voucher.objects.exists() and vendor_sim.calls == []

    # The same order, committed, sends exactly one task.
    _order_one(customer_api)
    voucher = Voucher.objects.get()
    assert len(sent) == 1
    wait_for(lambda: _settled(voucher.pk), what="the committed order's voucher")
    broker.close()


def test_the_expiry_task_marks_vouchers_past_valid_till_as_expired(live, tenant, customer):
    reward = reward_with_sku(tenant.company, "PLAIN")
    today = timezone.localdate()

    def voucher(code: str, valid_till: dt.date | None, status: str = "issued") -> Voucher:
        return Voucher.objects.create(
            company=tenant.company,
            customer=customer,
            reward=reward,
            code=code,
            status=status,
            denomination_value=10,
            valid_till=valid_till,
        )

    past = voucher("PAST", today - dt.timedelta(days=1))
    voucher("TODAY", today)
    voucher("FUTURE", today + dt.timedelta(days=1))
    voucher("NOEND", None)
    voucher("USED", today - dt.timedelta(days=3), status="redeemed")

    vouchers_expire.delay()

    wait_for(lambda: Voucher.objects.get(pk=past.pk).status == "expired", what="the expiry")
    statuses = dict(Voucher.objects.values_list("code", "status"))
    assert statuses == {
        "PAST": "expired",
        "TODAY": "issued",
        "FUTURE": "issued",
        "NOEND": "issued",
        "USED": "redeemed",
    }


def test_a_hundred_concurrent_orders_crossing_the_threshold_raise_one_alert_and_one_mail(live):
    tenant = make_tenant()
    tenant.company.alert_emails = "pm@example.com\n\nops@example.com\n"
    tenant.company.save(update_fields=["alert_emails"])
    reward = reward_with_sku(tenant.company, "LIMITED", qty=130, qty_trigger_limit=50)
    clients = [
        client_for(tenant.customer_token(CustomerFactory(company=tenant.company)))
        for _ in range(100)
    ]

    responses = run_concurrently(
        [lambda c=c: redeem(c, order_body(("LIMITED", 1, 5))) for c in clients]
    )

    assert [r.status_code for r in responses] == [201] * 100
    reward.refresh_from_db()
    assert reward.qty == 30 and reward.low_stock_alerted
    (alert,) = LowStockAlert.objects.all()
    assert (alert.reward_id, alert.qty_at_alert, alert.threshold, alert.state) == (
        reward.pk,
        50,
        50,
        "open",
    )
    wait_for(
        lambda: LowStockAlert.objects.filter(emailed_at__isnull=False).exists(), what="the mail"
    )
    time.sleep(0.5)
    (mail,) = sent_mail(live)
    assert mail["To"] == "pm@example.com, ops@example.com"
    assert "Low stock" in mail["Subject"] and "50 left" in mail["Subject"]


def test_restocking_above_the_threshold_re_arms_the_alert(live, tenant, customer_api):
    from rewards.services import reward_stock_adjust

    tenant.company.alert_emails = "pm@example.com"
    tenant.company.save(update_fields=["alert_emails"])
    reward = reward_with_sku(tenant.company, "LIMITED", qty=3, qty_trigger_limit=2)

    redeem(customer_api, order_body(("LIMITED", 1, 5)))  # 2: alert
    redeem(customer_api, order_body(("LIMITED", 1, 5)))  # 1: no second alert
    reward_stock_adjust(reward=reward, delta=10, note="restock")  # 11: resolved, re-armed
    for _ in range(9):
        redeem(customer_api, order_body(("LIMITED", 1, 5)))  # down to 2: a new alert

    first, second = LowStockAlert.objects.order_by("id")
    assert (first.state, first.qty_at_alert, first.resolved_at is not None) == (
        "resolved",
        2,
        True,
    )
    assert (second.state, second.qty_at_alert) == ("open", 2)
    wait_for(
        lambda: LowStockAlert.objects.filter(emailed_at__isnull=False).count() == 2,
        what="two mails",
    )
    time.sleep(0.3)
    assert len(sent_mail(live)) == 2
    assert Reward.objects.get(pk=reward.pk).low_stock_alerted
