from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower, Trim

from companies.models import Company


class Brand(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="brands")
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "name"], name="brand_name_unique_per_company"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Reward(models.Model):
    """A catalog reward: one denomination of a brand, with its stock and the SKUs that earn it."""

    class Status(models.IntegerChoices):
        INACTIVE = 0, "Inactive"
        ACTIVE = 1, "Active"

    class Fulfilment(models.TextChoices):
        GENERATED = "generated", "Generated codes"
        POOL = "pool", "Pre-loaded code pool"
        VENDOR = "vendor", "External vendor"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="rewards")
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="rewards")
    key = models.SlugField(max_length=100, help_text="Stable import key, unique per company.")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    denomination_value = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.PositiveSmallIntegerField(choices=Status.choices, default=Status.ACTIVE)
    # NULL means unlimited stock. A limited reward at 0 is set inactive in the same transaction.
    qty = models.PositiveIntegerField(null=True, blank=True, help_text="Empty = unlimited.")
    qty_trigger_limit = models.PositiveIntegerField(default=0)
    points_cost = models.PositiveIntegerField(null=True, blank=True)
    validity_days = models.PositiveIntegerField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    fulfilment = models.CharField(
        max_length=16, choices=Fulfilment.choices, default=Fulfilment.GENERATED
    )
    vendor_product_code = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "key"], name="reward_key_unique_per_company"
            ),
            models.CheckConstraint(condition=Q(qty__gte=0), name="reward_qty_not_negative"),
            models.CheckConstraint(
                condition=Q(denomination_value__gte=0), name="reward_denomination_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True)
                | Q(ends_at__isnull=True)
                | Q(ends_at__gt=models.F("starts_at")),
                name="reward_window_ends_after_start",
            ),
        ]
        indexes = [models.Index(fields=["company", "status"])]

    def __str__(self) -> str:
        return f"{self.brand} {self.name}"

    @property
    def is_unlimited(self) -> bool:
        return self.qty is None


class Sku(models.Model):
    """A product whose purchase earns the reward. `code` is what partners send as `sku`."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    reward = models.ForeignKey(Reward, on_delete=models.CASCADE, related_name="skus")
    code = models.CharField(max_length=200)
    # Lower-cased and trimmed: the match key for order lines. One reward per SKU per company.
    code_normalized = models.GeneratedField(
        expression=Lower(Trim("code")),
        output_field=models.CharField(max_length=200),
        db_persist=True,
    )
    product_name = models.CharField(max_length=200)
    variant = models.CharField(max_length=100, blank=True)
    pack_size = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "SKU"
        constraints = [
            models.UniqueConstraint(
                fields=["company", "code_normalized"], name="sku_code_unique_per_company"
            )
        ]

    def __str__(self) -> str:
        return self.code

    @staticmethod
    def normalize(code: str) -> str:
        """The Python twin of `code_normalized`, for matching what partners send."""
        return code.strip().lower()


class StockMovement(models.Model):
    """Every change of a reward's stock, with who and why. Limited rewards only."""

    class Reason(models.TextChoices):
        ORDER = "order", "Order"
        ISSUE = "issue", "Issued with points"
        VOUCHER_FAILED = "voucher_failed", "Failed voucher returned"
        ADJUSTMENT = "adjustment", "Admin adjustment"
        RESTOCK = "restock", "Restock"
        POOL_IMPORT = "pool_import", "Code pool import"

    reward = models.ForeignKey(Reward, on_delete=models.CASCADE, related_name="movements")
    delta = models.IntegerField()
    qty_after = models.PositiveIntegerField()
    reason = models.CharField(max_length=20, choices=Reason.choices)
    reference = models.CharField(max_length=100, blank=True)
    note = models.CharField(max_length=500, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["reward", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.delta:+d} {self.reason}"


class PoolCode(models.Model):
    """A pre-loaded voucher code; handed out once (`assigned_at` set) under concurrency."""

    reward = models.ForeignKey(Reward, on_delete=models.CASCADE, related_name="pool_codes")
    code = models.CharField(max_length=100)
    assigned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["reward", "code"], name="pool_code_unique_per_reward")
        ]
        indexes = [
            models.Index(
                fields=["reward", "id"],
                condition=Q(assigned_at__isnull=True),
                name="pool_code_free_idx",
            )
        ]

    def __str__(self) -> str:
        return self.code
