"""Celery tasks for the catalog: low-stock alert e-mails. Each takes ids, calls a service
(rewards.alerts), and may run twice without harm."""

from __future__ import annotations

import smtplib

from celery import shared_task

from . import alerts


@shared_task(
    acks_late=True,
    ignore_result=True,
    # A mail server hiccup is retried a few times; the e-mail sweep catches what is left.
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=30,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=5,
)
def low_stock_alert_email(alert_id: int) -> bool:
    """E-mail one low-stock alert to its company's program managers (once: sets emailed_at)."""
    return alerts.low_stock_alert_email_send(alert_id=alert_id)


@shared_task(ignore_result=True)
def low_stock_alert_emails_sweep() -> int:
    """Celery beat, every 5 minutes: re-send alert e-mails whose task was lost."""
    ids = alerts.low_stock_alert_emails_unsent()
    for alert_id in ids:
        alerts.low_stock_alert_enqueue(alert_id=alert_id)
    return len(ids)
