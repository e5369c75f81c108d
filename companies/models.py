from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q


class Company(models.Model):
    """A tenant: a partner brand. Everything a partner sees is scoped to one of these."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    name = models.CharField(max_length=200)
    client_id = models.SlugField(max_length=64, unique=True, help_text="Public identifier.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        help_text="Connected orgs: a parent may act on its children's rewards, never the reverse.",
    )
    points_earn_rate = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Points earned per currency unit of an order's total (rounded down).",
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Authenticated API calls allowed per minute; empty = the platform default.",
    )
    alert_emails = models.TextField(
        blank=True, help_text="Program-manager contacts for low-stock alerts, one per line."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "companies"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(points_earn_rate__gte=0), name="company_earn_rate_not_negative"
            ),
            models.CheckConstraint(
                condition=~Q(parent=models.F("id")), name="company_not_its_own_parent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.client_id})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Store(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="stores")
    code = models.CharField(max_length=64)
    name = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "code"], name="store_code_unique_per_company"
            )
        ]

    def __str__(self) -> str:
        return self.code


class CompanySecret(models.Model):
    """An API secret. Only its SHA-256 digest is stored, with a short prefix to recognise it."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="secrets")
    prefix = models.CharField(max_length=16, help_text="First characters, to tell secrets apart.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}…"
