"""The Celery configuration the guarantees rest on (docs/background.md)."""

from __future__ import annotations

from django.conf import settings

from config.celery import app
from config.settings import base
from orders.tasks import fulfil_voucher
from rewards.tasks import low_stock_alert_email


def test_the_visibility_timeout_outlasts_the_longest_task_plus_the_largest_retry_delay():
    longest_task = max(base.CELERY_TASK_TIME_LIMIT, base.VOUCHER_FULFIL_TIME_LIMIT)
    visibility = base.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]

    assert visibility > longest_task + base.VOUCHER_RETRY_DELAY_MAX


def test_the_sweep_waits_longer_than_a_retry_waiting_its_turn():
    assert (
        base.VOUCHER_PENDING_SWEEP_AFTER
        > base.VOUCHER_RETRY_DELAY_MAX + base.VOUCHER_FULFIL_TIME_LIMIT
    )


def test_a_vendor_call_ends_inside_the_fulfilment_tasks_soft_time_limit():
    assert base.VENDOR_CALL_TIMEOUT_MAX < base.VOUCHER_FULFIL_SOFT_TIME_LIMIT
    assert base.VOUCHER_FULFIL_SOFT_TIME_LIMIT < base.VOUCHER_FULFIL_TIME_LIMIT


def test_workers_acknowledge_late_take_one_message_at_a_time_and_have_time_limits():
    conf = app.conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_time_limit and conf.task_soft_time_limit
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    for task in (fulfil_voucher, low_stock_alert_email):
        assert task.acks_late


def test_every_scheduled_task_exists():
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks, entry


def test_the_test_broker_is_not_the_cache_database():
    assert settings.CELERY_BROKER_URL.rsplit("/", 1)[1] != settings.REDIS_URL.rsplit("/", 1)[1]
