"""Low-stock alerts: one LowStockAlert per crossing of a reward's `qty_trigger_limit`, e-mailed to
the company's program-manager contacts (Company.alert_emails) by a task (rewards/tasks.py).

The stock functions in rewards/services.py call `low_stock_check` after a stock change and
`low_stock_rearm` after a restock, both under the reward's row lock that those functions already
hold. `Reward.low_stock_alerted` is read and written only under that lock, so however many
orders take stock at once, exactly one of them sees the flag down and raises the alert.

Rules (docs/background.md):
* Limited rewards with qty_trigger_limit > 0 only. 0 (the default) means "no alert": with it,
  every reward that sells out would mail its managers, wanted or not; set 1 to hear about the
  last unit.
* An alert is raised when a change leaves the stock at or below the limit and the flag is down;
  the flag then stays up until a restock (an admin adjustment, a pool or catalog import adding stock)
  lifts the stock above the limit, which resolves the open alerts and re-arms. A failed voucher
  giving its unit back does not re-arm: stock hovering at the limit would otherwise mail the
  managers once per failed voucher.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from .models import LowStockAlert, Reward

logger = logging.getLogger(__name__)

# The e-mail sweep re-sends alerts whose mail has not gone out this long after they were raised
# (the task and its own retries had their chance), and gives up on alerts older than a couple of
# days: a contact added next month should not receive last month's alerts.
LOW_STOCK_EMAIL_SWEEP_AFTER = dt.timedelta(minutes=10)
LOW_STOCK_EMAIL_SWEEP_WITHIN = dt.timedelta(hours=48)


def low_stock_check(*, reward: Reward) -> LowStockAlert | None:
    """Raise the alert if this stock change brought `reward` to or below its limit and no alert
    is up for the current crossing. `reward` must be the row locked by the caller (its
    `qty` and `low_stock_alerted` as of the lock, qty after the change)."""
    if reward.qty is None or reward.qty_trigger_limit <= 0:
        return None
    if reward.qty > reward.qty_trigger_limit or reward.low_stock_alerted:
        return None
    Reward.objects.filter(pk=reward.pk).update(low_stock_alerted=True)
    reward.low_stock_alerted = True
    alert = LowStockAlert.objects.create(
        company_id=reward.company_id,
        reward=reward,
        qty_at_alert=reward.qty,
        threshold=reward.qty_trigger_limit,
    )
    # After commit only: a rolled-back order raises no alert and sends no mail.
    transaction.on_commit(lambda: low_stock_alert_enqueue(alert_id=alert.pk))
    return alert


def low_stock_rearm(*, reward: Reward) -> int:
    """After a restock: if stock is above the limit again, lower the flag and resolve the open
    alerts, so the next crossing raises a new one. Returns how many alerts were resolved."""
    if reward.qty is None or not reward.low_stock_alerted:
        return 0
    if reward.qty_trigger_limit > 0 and reward.qty <= reward.qty_trigger_limit:
        return 0
    Reward.objects.filter(pk=reward.pk).update(low_stock_alerted=False)
    reward.low_stock_alerted = False
    return LowStockAlert.objects.filter(reward=reward, state=LowStockAlert.State.OPEN).update(
        state=LowStockAlert.State.RESOLVED, resolved_at=timezone.now()
    )


def low_stock_alert_enqueue(*, alert_id: int) -> None:
    """Send the e-mail task. Never raises (called after commit): the alert is recorded, and the
    e-mail sweep sends what could not be enqueued."""
    from .tasks import low_stock_alert_email  # the tasks module imports this one

    try:
        low_stock_alert_email.delay(alert_id)
    except Exception:
        logger.exception("low-stock alert %s: e-mail not enqueued; the sweep will retry", alert_id)


def alert_recipients(*, alert_emails: str) -> list[str]:
    """Company.alert_emails, one address per line; blanks, duplicates and invalid lines skipped."""
    recipients: list[str] = []
    for line in alert_emails.splitlines():
        address = line.strip()
        if not address or address in recipients:
            continue
        try:
            validate_email(address)
        except ValidationError:
            logger.warning("alert_emails: skipping an invalid address")
            continue
        recipients.append(address)
    return recipients


def low_stock_alert_email_send(*, alert_id: int) -> bool:
    """E-mail the alert to its company's program managers once: `emailed_at` is set after the
    send and a sent alert is never sent again. No row lock is held across the SMTP call; two
    copies of the task running at the very same moment could both send (at least once beats a
    missed alert). Returns whether a mail was sent."""
    alert = (
        LowStockAlert.objects.select_related("reward__brand", "company").filter(pk=alert_id).first()
    )
    if alert is None or alert.emailed_at is not None:
        return False
    recipients = alert_recipients(alert_emails=alert.company.alert_emails)
    if not recipients:
        logger.info("low-stock alert %s: company has no alert e-mail contacts", alert_id)
        return False
    reward = alert.reward
    subject = f"Low stock: {reward} ({alert.qty_at_alert} left)"
    body = (
        f'The stock of the reward "{reward}" (id {reward.pk}, key {reward.key}) of '
        f"{alert.company} fell to {alert.qty_at_alert}, at or below its alert threshold of "
        f"{alert.threshold}.\n\n"
        f"Current stock: {reward.qty}. Restock it in the back-office "
        f"(/admin/rewards/reward/{reward.pk}/change/); restocking above the threshold re-arms "
        "this alert.\n"
    )
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    LowStockAlert.objects.filter(pk=alert_id, emailed_at__isnull=True).update(
        emailed_at=timezone.now()
    )
    return True


def low_stock_alert_emails_unsent(*, limit: int = 200) -> list[int]:
    """Open alerts whose e-mail has not gone out although the company has contacts, raised
    between LOW_STOCK_EMAIL_SWEEP_WITHIN and LOW_STOCK_EMAIL_SWEEP_AFTER ago: their task was lost
    or failed for good."""
    now = timezone.now()
    return list(
        LowStockAlert.objects.filter(
            state=LowStockAlert.State.OPEN,
            emailed_at__isnull=True,
            raised_at__lt=now - LOW_STOCK_EMAIL_SWEEP_AFTER,
            raised_at__gte=now - LOW_STOCK_EMAIL_SWEEP_WITHIN,
        )
        .exclude(company__alert_emails="")
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
