from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q

from companies.models import Company
from customers.models import Customer
from rewards.models import Reward


def new_order_id() -> str:
    return "ord_" + secrets.token_hex(12)


class Order(models.Model):
    """A purchase reported by a partner, and the vouchers it earned."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        FULFILLED = "fulfilled", "Fulfilled"
        PARTIALLY_FULFILLED = "partially_fulfilled", "Partially fulfilled"
        FAILED = "failed", "Failed"

    public_id = models.CharField(max_length=32, unique=True, default=new_order_id, editable=False)
    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="orders")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    order_reference = models.CharField(max_length=100, null=True, blank=True)
    order_timestamp = models.DateTimeField()
    order_total = models.DecimalField(max_digits=14, decimal_places=2)
    order_items = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.FULFILLED)
    points_earned = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "order_reference"],
                condition=Q(order_reference__isnull=False),
                name="order_reference_unique_per_company",
            ),
            models.CheckConstraint(
                condition=Q(order_total__gte=0), name="order_total_not_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["company", "-created_at"]),
            models.Index(fields=["customer", "-created_at"]),
            models.Index(fields=["company", "status", "-created_at"]),
        ]
        permissions = [
            ("export_orders", "Can export order history (CSV, XLSX)"),
            ("view_dashboard", "Can view the back-office dashboard"),
        ]

    def __str__(self) -> str:
        return self.public_id


class LineItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="line_items")
    sku = models.CharField(max_length=200, help_text="As the partner sent it.")
    quantity = models.PositiveIntegerField()
    price = models.DecimalField(max_digits=14, decimal_places=2)
    reward = models.ForeignKey(
        Reward,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The reward the SKU earned; empty when the SKU is not mapped.",
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class Voucher(models.Model):
    """One unit of a reward issued to a customer. The code is generated, taken from the reward's
    pool, or fetched from a vendor (then `pending` with no code until fulfilment)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ISSUED = "issued", "Issued"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"
        REDEEMED = "redeemed", "Redeemed"

    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="vouchers")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="vouchers")
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="vouchers")
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.CASCADE, related_name="vouchers"
    )
    line_item = models.ForeignKey(
        LineItem, null=True, blank=True, on_delete=models.CASCADE, related_name="vouchers"
    )
    code = models.CharField(max_length=100, null=True, blank=True, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ISSUED)
    denomination_value = models.DecimalField(max_digits=12, decimal_places=2)
    valid_till = models.DateField(null=True, blank=True)
    pin = models.CharField(max_length=100, blank=True)
    # Points paid for this voucher through the loyalty issue call. While a vendor voucher is
    # pending these points are HELD (ledger reference = `ledger_reference`); fulfilment captures
    # them on success and releases them on final failure.
    points_spent = models.BigIntegerField(default=0)
    issue = models.ForeignKey(
        "RewardIssue", null=True, blank=True, on_delete=models.CASCADE, related_name="vouchers"
    )
    # Background fulfilment bookkeeping (vendor vouchers).
    fulfilment_attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(
        null=True, blank=True, help_text="When a fulfilment task was last sent for it."
    )
    failure_reason = models.CharField(max_length=300, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["company", "status", "created_at"]),
            models.Index(fields=["customer", "reward"]),
            models.Index(fields=["status", "created_at"], name="voucher_status_created_idx"),
            # The dashboard's vouchers per day and top rewards (count and value per reward): an
            # index-only scan of the 30-day range, whatever the table's size. (Value as a key
            # column rather than INCLUDE, which SQLite, the embedded default, warns about.)
            models.Index(
                fields=["created_at", "reward", "denomination_value"],
                name="voucher_created_reward_cov_idx",
            ),
        ]
        permissions = [("view_voucher_codes", "Can see voucher codes and PINs unmasked")]

    def __str__(self) -> str:
        # Never the code: a voucher code is bearer value, and __str__ ends up in admin titles,
        # breadcrumbs, inline rows and logs. The admin shows it (masked unless superuser).
        return f"voucher {self.pk} ({self.status})"


class IdempotencyRecord(models.Model):
    """The first answer to a request made with an `Idempotency-Key`, replayed for repeats."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    scope = models.CharField(max_length=50, help_text="Which operation the key was used for.")
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["company", "scope", "key"], name="idempotency_key_unique_per_company"
            )
        ]

    def __str__(self) -> str:
        return self.key


class FulfilmentStatus(models.Model):
    """A company's own stages for physical or delivered rewards (BOOKED, SHIPPED, DELIVERED)."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=50)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["company", "position", "name"]
        verbose_name_plural = "fulfilment statuses"
        constraints = [
            models.UniqueConstraint(
                fields=["company", "name"], name="fulfilment_status_unique_per_company"
            )
        ]

    def __str__(self) -> str:
        return self.name


class RewardIssue(models.Model):
    """One reward of a loyalty issue call (`rewards[i]`), paid with points: what was asked, what
    was issued, and the answer given, replayed for a repeated `requestId`."""

    class Status(models.TextChoices):
        ISSUED = "issued", "Issued"
        PENDING = "pending", "Waiting on the vendor"
        FAILED = "failed", "Failed"

    company = models.ForeignKey(
        Company, on_delete=models.PROTECT, related_name="+", help_text="The calling company."
    )
    org = models.ForeignKey(
        Company,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The company whose reward it is (the caller, or a child for connected orgs).",
    )
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="reward_issues")
    reward = models.ForeignKey(
        Reward, null=True, blank=True, on_delete=models.PROTECT, related_name="issues"
    )
    store_code = models.CharField(max_length=64, blank=True)
    request_id = models.CharField(max_length=255, null=True, blank=True)
    requested_quantity = models.DecimalField(max_digits=14, decimal_places=4)
    quantity = models.PositiveIntegerField(default=0)
    points = models.BigIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices)
    result_code = models.PositiveIntegerField(help_text="The Loyalty API code of this reward.")
    message = models.CharField(max_length=300, blank=True)
    transaction_number = models.CharField(max_length=100, blank=True)
    notes = models.TextField(blank=True)
    event_log_id = models.CharField(max_length=255, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    group = models.ForeignKey(
        "loyalty.CustomerGroup",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Set for a group-loyalty redemption (points from the pool).",
    )
    fulfilment_status = models.ForeignKey(
        FulfilmentStatus, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    fulfilment_updated_at = models.DateTimeField(null=True, blank=True)
    response = models.JSONField(default=dict, help_text="The per-reward answer, for replays.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "request_id"],
                condition=Q(request_id__isnull=False),
                name="reward_issue_request_id_unique_per_company",
            )
        ]
        indexes = [models.Index(fields=["customer", "-created_at"])]

    def __str__(self) -> str:
        return f"issue {self.pk}"
