"""Low-stock alerts without a worker: the e-mail task runs inline after commit (eager mode), so
the sent mail is in django.core.mail.outbox. The race with a real worker is in test_worker.py."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from orders.fulfilment import voucher_fulfil
from rewards.alerts import alert_recipients, low_stock_alert_email_send
from rewards.catalog_import import catalog_import
from rewards.models import LowStockAlert, Reward
from rewards.services import reward_stock_adjust
from rewards.tasks import low_stock_alert_email, low_stock_alert_emails_sweep
from tests.background.conftest import pending_voucher, vendor_reward
from tests.factories import reward_with_sku
from tests.orders.conftest import order_body, redeem

pytestmark = pytest.mark.django_db


@pytest.fixture
def contacts(tenant):
    tenant.company.alert_emails = "pm@example.com\n  buyer@example.com  \n\nnot-an-address\n"
    tenant.company.save(update_fields=["alert_emails"])
    return ["pm@example.com", "buyer@example.com"]


def _order(customer_api, sku: str, quantity: int = 1, capture=None):
    with capture(execute=True):
        response = redeem(customer_api, order_body((sku, quantity, 5)))
    return response


def test_falling_to_the_threshold_raises_one_alert_and_mails_the_program_managers(
    tenant, customer_api, contacts, django_capture_on_commit_callbacks
):
    reward = reward_with_sku(tenant.company, "LIMITED", qty=5, qty_trigger_limit=3)

    _order(customer_api, "LIMITED", capture=django_capture_on_commit_callbacks)  # 4: above
    assert not LowStockAlert.objects.exists() and mail.outbox == []
    _order(customer_api, "LIMITED", capture=django_capture_on_commit_callbacks)  # 3: at it
    _order(customer_api, "LIMITED", capture=django_capture_on_commit_callbacks)  # 2: below

    (alert,) = LowStockAlert.objects.all()
    assert (alert.company_id, alert.reward_id, alert.qty_at_alert, alert.threshold) == (
        tenant.company.pk,
        reward.pk,
        3,
        3,
    )
    assert alert.state == "open" and alert.emailed_at is not None
    (message,) = mail.outbox
    assert message.to == contacts
    assert "Low stock" in message.subject and "3 left" in message.subject
    assert Reward.objects.get(pk=reward.pk).low_stock_alerted


def test_an_order_jumping_past_the_threshold_raises_the_alert_too(
    tenant, customer_api, contacts, django_capture_on_commit_callbacks
):
    reward_with_sku(tenant.company, "LIMITED", qty=10, qty_trigger_limit=5)

    _order(customer_api, "LIMITED", quantity=8, capture=django_capture_on_commit_callbacks)

    assert LowStockAlert.objects.get().qty_at_alert == 2


def test_the_alert_e_mail_is_sent_once(tenant, contacts, django_capture_on_commit_callbacks):
    reward = reward_with_sku(tenant.company, "LIMITED", qty=2, qty_trigger_limit=5)
    with django_capture_on_commit_callbacks(execute=True):
        reward_stock_adjust(reward=reward, delta=-1, note="breakage")
    alert = LowStockAlert.objects.get()

    low_stock_alert_email.delay(alert.pk)  # a redelivered task
    assert low_stock_alert_email_send(alert_id=alert.pk) is False

    assert len(mail.outbox) == 1


def test_a_threshold_of_zero_or_unlimited_stock_never_alerts(
    tenant, customer_api, contacts, django_capture_on_commit_callbacks
):
    reward_with_sku(tenant.company, "ZERO", qty=1, qty_trigger_limit=0)
    reward_with_sku(tenant.company, "UNLIMITED", qty=None, qty_trigger_limit=5)

    _order(customer_api, "ZERO", capture=django_capture_on_commit_callbacks)  # sells out
    _order(customer_api, "UNLIMITED", capture=django_capture_on_commit_callbacks)

    assert not LowStockAlert.objects.exists() and mail.outbox == []


def test_a_restock_above_the_threshold_resolves_and_re_arms(
    tenant, customer_api, contacts, django_capture_on_commit_callbacks
):
    reward = reward_with_sku(tenant.company, "LIMITED", qty=3, qty_trigger_limit=2)
    _order(customer_api, "LIMITED", capture=django_capture_on_commit_callbacks)  # 2: alert

    reward_stock_adjust(reward=reward, delta=1, note="found one")  # 3: above again
    reward.refresh_from_db()
    first = LowStockAlert.objects.get()
    assert (first.state, reward.low_stock_alerted) == ("resolved", False)
    assert first.resolved_at is not None

    _order(customer_api, "LIMITED", capture=django_capture_on_commit_callbacks)  # 2: new alert

    assert [a.state for a in LowStockAlert.objects.order_by("id")] == ["resolved", "open"]
    assert len(mail.outbox) == 2


def test_a_restock_by_catalog_import_re_arms_and_a_cut_raises_the_alert(
    tenant, customer_api, contacts, django_capture_on_commit_callbacks
):
    reward = reward_with_sku(tenant.company, "LIMITED", qty=3, qty_trigger_limit=2)
    _order(customer_api, "LIMITED", capture=django_capture_on_commit_callbacks)  # 2: alert

    def import_stock(qty: int) -> None:
        row = {
            "key": reward.key,
            "brand": reward.brand.name,
            "name": reward.name,
            "denomination_value": "10",
            "status": 1,
            "qty": qty,
            "qty_trigger_limit": 2,
            "points_cost": None,
            "fulfilment": "generated",
            "skus": [{"code": "LIMITED", "product_name": "LIMITED"}],
        }
        with django_capture_on_commit_callbacks(execute=True):
            catalog_import(company=tenant.company, rows=[row])

    import_stock(10)  # restocked above the threshold by file
    reward.refresh_from_db()
    assert LowStockAlert.objects.get().state == "resolved" and not reward.low_stock_alerted

    import_stock(1)  # cut below it by file

    assert [a.state for a in LowStockAlert.objects.order_by("id")] == ["resolved", "open"]
    assert LowStockAlert.objects.order_by("id").last().qty_at_alert == 1
    assert len(mail.outbox) == 2


def test_a_restock_that_stays_at_or_below_the_threshold_does_not_re_arm(
    tenant, customer_api, contacts, django_capture_on_commit_callbacks
):
    reward = reward_with_sku(tenant.company, "LIMITED", qty=3, qty_trigger_limit=2)
    _order(customer_api, "LIMITED", quantity=2, capture=django_capture_on_commit_callbacks)  # 1

    reward_stock_adjust(reward=reward, delta=1, note="found one")  # 2: still at the threshold
    _order(customer_api, "LIMITED", capture=django_capture_on_commit_callbacks)  # 1

    assert LowStockAlert.objects.get().state == "open"
    assert len(mail.outbox) == 1


def test_an_order_that_fails_raises_no_alert(
    tenant, customer_api, contacts, django_capture_on_commit_callbacks
):
    reward = reward_with_sku(tenant.company, "LIMITED", qty=3, qty_trigger_limit=2)
    reward_with_sku(tenant.company, "SOLDOUT", qty=0, status=Reward.Status.INACTIVE)

    with django_capture_on_commit_callbacks(execute=True):
        response = redeem(customer_api, order_body(("LIMITED", 2, 5), ("SOLDOUT", 1, 5)))

    assert response.status_code == 422
    assert not LowStockAlert.objects.exists() and mail.outbox == []
    assert not Reward.objects.get(pk=reward.pk).low_stock_alerted


@pytest.mark.django_db(transaction=True)
def test_a_failed_voucher_giving_its_unit_back_does_not_re_arm(
    tenant, customer, contacts, vendor, vendor_sim
):
    """Stock hovering at the threshold would otherwise mail the managers once per failure."""
    vendor_sim.script("400")
    reward = vendor_reward(tenant.company, vendor, qty=3, qty_trigger_limit=2)
    voucher = pending_voucher(reward=reward, customer=customer)  # 2: alert

    assert voucher_fulfil(voucher_id=voucher.pk).outcome == "failed"  # back to 3

    reward.refresh_from_db()
    assert reward.qty == 3 and reward.low_stock_alerted
    assert LowStockAlert.objects.get().state == "open"


def test_no_contacts_means_no_mail_and_the_sweep_leaves_it(
    tenant, django_capture_on_commit_callbacks
):
    reward = reward_with_sku(tenant.company, "LIMITED", qty=2, qty_trigger_limit=5)
    with django_capture_on_commit_callbacks(execute=True):
        reward_stock_adjust(reward=reward, delta=-1, note="breakage")
    LowStockAlert.objects.update(raised_at=timezone.now() - dt.timedelta(hours=1))

    assert low_stock_alert_emails_sweep.delay().get() == 0
    assert mail.outbox == [] and LowStockAlert.objects.get().emailed_at is None


def test_the_sweep_sends_alert_mails_whose_task_was_lost(tenant, contacts):
    reward = reward_with_sku(tenant.company, "LIMITED", qty=2, qty_trigger_limit=5)
    # The test's transaction never commits, so the on_commit enqueue never runs: a lost task.
    reward_stock_adjust(reward=reward, delta=-1, note="breakage")
    assert low_stock_alert_emails_sweep.delay().get() == 0  # too recent: its task may be queued

    LowStockAlert.objects.update(raised_at=timezone.now() - dt.timedelta(hours=1))
    assert low_stock_alert_emails_sweep.delay().get() == 1

    assert len(mail.outbox) == 1 and LowStockAlert.objects.get().emailed_at is not None
    assert low_stock_alert_emails_sweep.delay().get() == 0


def test_alert_contacts_are_one_address_per_line():
    assert alert_recipients(
        alert_emails="a@example.com\r\n\n b@example.com \nnope\na@example.com"
    ) == [
        "a@example.com",
        "b@example.com",
    ]
