from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from companies.models import Company

MOBILE_PATTERN = r"^\+?[0-9]{10,15}$"
mobile_validator = RegexValidator(MOBILE_PATTERN, "10 to 15 digits, an optional leading +.")


class Customer(models.Model):
    """A partner's customer. Mobile is the identity within one company."""

    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="customers")
    name = models.CharField(max_length=200)
    mobile = models.CharField(max_length=16, validators=[mobile_validator])
    email = models.EmailField(blank=True)
    external_id = models.CharField(max_length=100, null=True, blank=True)
    segments = models.JSONField(
        default=list, blank=True, help_text="Segments / labels, for rewards restricted to some."
    )
    # Kept in step with the points ledger in the same transaction (see loyalty.services).
    points_balance = models.BigIntegerField(default=0)
    points_held = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "mobile"], name="customer_mobile_unique_per_company"
            ),
            models.UniqueConstraint(
                fields=["company", "external_id"],
                condition=Q(external_id__isnull=False),
                name="customer_external_id_unique_per_company",
            ),
            models.CheckConstraint(
                condition=Q(points_balance__gte=0), name="customer_points_balance_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(points_held__gte=0), name="customer_points_held_not_negative"
            ),
        ]
        indexes = [models.Index(fields=["company", "email"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.mobile})"

    @property
    def points_available(self) -> int:
        return self.points_balance - self.points_held
