from __future__ import annotations

from django.conf import settings
from django.db import models

from companies.models import Company
from customers.models import Customer


class CustomerGroup(models.Model):
    """Group loyalty: customers pooling their points. The pool's balance lives here and moves
    only with ledger rows that name the group."""

    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    external_id = models.CharField(max_length=100, null=True, blank=True)
    primary_customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="primary_of_groups"
    )
    members = models.ManyToManyField(Customer, related_name="loyalty_groups", blank=True)
    points_balance = models.BigIntegerField(default=0)
    points_held = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="customer_group_external_id_unique_per_company",
            ),
            models.CheckConstraint(
                condition=models.Q(points_balance__gte=0), name="group_points_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(points_held__gte=0), name="group_points_held_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def points_available(self) -> int:
        return self.points_balance - self.points_held


class ValidationCode(models.Model):
    """A short-lived, single-use code sent to a customer to confirm an issue call made without
    `skip_validation=true`. Only its digest is stored."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["customer", "-created_at"])]

    def __str__(self) -> str:
        return f"validation code for customer {self.customer_id}"


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
    # Set when the row moves a group's pooled points (then balance_after/held_after are the
    # group's, and `customer` is the member who acted); NULL for the customer's own points.
    group = models.ForeignKey(
        CustomerGroup, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger"
    )
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
