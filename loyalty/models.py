from __future__ import annotations

from django.conf import settings
from django.db import models

from companies.models import Company
from customers.models import Customer


class PointsLedgerEntry(models.Model):
    """One change of a customer's points. Balances on Customer are kept in step with these rows
    in the same transaction, and can always be recomputed from them (loyalty.selectors)."""

    class Kind(models.TextChoices):
        EARN = "earn", "Earned on a purchase"
        SPEND = "spend", "Spent on a reward"
        HOLD = "hold", "Held while a vendor answers"
        CAPTURE = "capture", "Hold captured"
        RELEASE = "release", "Hold released"
        EXPIRE = "expire", "Expired"
        ADJUST = "adjust", "Adjusted by staff"

    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="ledger")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # Change to the balance (earn +, spend/capture/expire -, adjust ±) and to the held points
    # (hold +, capture/release -). Available = balance - held.
    points = models.BigIntegerField(default=0)
    held = models.BigIntegerField(default=0)
    balance_after = models.BigIntegerField()
    held_after = models.BigIntegerField()
    reason = models.CharField(max_length=200)
    reference = models.CharField(max_length=100, blank=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "points ledger entry"
        verbose_name_plural = "points ledger"
        indexes = [models.Index(fields=["customer", "-id"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.points:+d}"
