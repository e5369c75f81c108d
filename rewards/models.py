from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
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


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class Vendor(models.Model):
    """An external voucher vendor. Its API key is stored encrypted (rewards.vendor_secrets),
    never in plain text, and never shown back in the admin."""

    company = models.ForeignKey(
        Company,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="vendors",
        help_text="Empty = a platform-wide vendor any company's rewards may use.",
    )
    name = models.CharField(max_length=100, unique=True)
    base_url = models.URLField(help_text="The vendor's API root; we POST {base_url}/vouchers.")
    api_key_encrypted = models.TextField(blank=True, editable=False)
    timeout_seconds = models.DecimalField(max_digits=5, decimal_places=2, default=10)
    max_retries = models.PositiveSmallIntegerField(
        default=5, help_text="Retries after the first call on timeouts, 5xx and 429."
    )
    backoff_base_seconds = models.PositiveIntegerField(
        default=5, help_text="First retry delay; doubles each time, with jitter."
    )
    backoff_max_seconds = models.PositiveIntegerField(default=300)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(timeout_seconds__gt=0), name="vendor_timeout_positive"
            ),
            models.CheckConstraint(
                condition=Q(max_retries__lte=20), name="vendor_max_retries_at_most_20"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # The API key travels in a header on every call: only over TLS, except to this machine
        # (the simulated vendor, a local sidecar).
        parts = urlsplit(self.base_url or "")
        if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
            raise ValidationError({"base_url": "Use https:// (http is allowed only on loopback)."})


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
    vendor = models.ForeignKey(
        Vendor, null=True, blank=True, on_delete=models.PROTECT, related_name="rewards"
    )
    vendor_product_code = models.CharField(max_length=100, blank=True)

    # --- Loyalty catalog fields (the Capillary rewards-catalog shape) -------------------------
    class PaymentMode(models.TextChoices):
        POINTS = "POINTS", "Fixed points per unit"
        CONV_RATIO = "CONV_RATIO", "Conversion ratio (units per point)"

    image_id = models.CharField(max_length=100, blank=True)
    image_url = models.URLField(max_length=500, blank=True)
    thumbnail_id = models.CharField(max_length=100, blank=True)
    thumbnail_url = models.URLField(max_length=500, blank=True)
    terms_id = models.CharField(max_length=100, blank=True)
    terms_url = models.URLField(max_length=500, blank=True)
    tier = models.CharField(max_length=50, blank=True)
    label = models.CharField(max_length=50, blank=True)
    priority = models.IntegerField(default=0)
    group = models.CharField(max_length=100, blank=True)
    group_name = models.CharField(max_length=100, blank=True)
    group_rank = models.IntegerField(null=True, blank=True)
    reward_rank = models.IntegerField(null=True, blank=True)
    program_id = models.BigIntegerField(null=True, blank=True)
    categories = models.JSONField(
        default=list, blank=True, help_text='[{"id": 2, "name": "accessories", "enabled": true}]'
    )
    custom_fields = models.JSONField(default=dict, blank=True, help_text='{"CF2": "value"}')
    segments = models.JSONField(
        default=list,
        blank=True,
        help_text="Customer segments allowed to receive it; empty = every customer.",
    )
    payment_mode = models.CharField(
        max_length=12, choices=PaymentMode.choices, default=PaymentMode.POINTS
    )
    conversion_ratio = models.DecimalField(
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="CONV_RATIO: units per point; points = ceil(quantity / ratio).",
    )
    # Low-stock alerting: set when an alert is raised for the current crossing of
    # qty_trigger_limit, cleared when a restock lifts stock above it (re-arming the alert).
    # Changed only under the reward's row lock, so concurrent orders raise one alert.
    low_stock_alerted = models.BooleanField(default=False, editable=False)
    # Set when a sale took the last unit and switched the reward off by itself; a unit given back
    # by a failed voucher then switches it on again. Any status set by staff clears it, so a
    # reward someone switched off on purpose stays off.
    sold_out = models.BooleanField(default=False, editable=False)
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
                condition=Q(payment_mode="POINTS") | Q(conversion_ratio__gt=0),
                name="reward_conversion_ratio_set_for_conv_ratio",
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
        """The Python twin of `code_normalized`, for matching what partners send. Stored codes
        never carry surrounding whitespace (the import and the admin strip it, and so does
        reward_skus_save), so SQL's TRIM and Python's strip() agree on them."""
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
            # Voucher codes are unique across the platform, so pool codes are too: a code loaded
            # into two pools would fail the second voucher that took it.
            models.UniqueConstraint(fields=["code"], name="pool_code_unique")
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


class LowStockAlert(models.Model):
    """A reward's stock fell to or below its threshold. One row per crossing."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved (restocked)"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    reward = models.ForeignKey(Reward, on_delete=models.CASCADE, related_name="alerts")
    qty_at_alert = models.PositiveIntegerField()
    threshold = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    emailed_at = models.DateTimeField(null=True, blank=True)
    raised_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        indexes = [models.Index(fields=["state", "-raised_at"])]

    def __str__(self) -> str:
        return f"{self.reward}: {self.qty_at_alert} ≤ {self.threshold}"
