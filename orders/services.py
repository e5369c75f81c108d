"""Writes for orders: a purchase redeemed on SKUs becomes an order, its vouchers and its points in
one transaction; `Idempotency-Key` replays; the purge of old idempotency records.

Lock order (the project's, see loyalty.services and rewards.services): the customer row first,
then reward rows in primary-key order (one sorted SELECT ... FOR UPDATE in reward_stock_take),
then pool codes (skip_locked: never waited for). Rows that reference a reward (line items,
vouchers) are inserted only after the reward is locked: such an insert takes a FOR KEY SHARE lock
on the reward, which conflicts with FOR UPDATE, so inserting first and locking second would let
two orders deadlock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from companies.models import Company
from config.api.errors import ApplicationError, envelope
from config.api.fields import plain_number
from customers.models import Customer
from loyalty.services import customer_lock, points_earn, points_for_amount
from rewards.models import Reward, Sku, StockMovement
from rewards.services import OutOfStock, pool_codes_take, reward_stock_take

from .errors import OrderErrorType
from .models import IdempotencyRecord, LineItem, Order, Voucher, new_order_id
from .selectors import order_get_for_answer, rewards_for_skus
from .serializers import order_wire

logger = logging.getLogger(__name__)

# --- Limits on what one request may ask for (documented in docs/orders.md) ------------------
MAX_LINE_ITEMS = 100
MAX_QUANTITY_PER_LINE = 10_000
MAX_VOUCHERS_PER_ORDER = 1_000
IDEMPOTENCY_KEY_MAX_LENGTH = 255
# How long a request waits for a concurrent request with the same key before answering 409.
IDEMPOTENCY_WAIT = "15s"
# The contract promises keys are kept at least this long; the purge refuses anything shorter.
IDEMPOTENCY_MIN_RETENTION = dt.timedelta(hours=24)
IDEMPOTENCY_SCOPE_REDEEM = "order_redeem_skus"

# --- Voucher codes ---------------------------------------------------------------------------
# No look-alikes (0/O, 1/I/L). 13 symbols of 31 carry 13 * log2(31) ≈ 64.4 bits, so guessing a
# live code is hopeless and a collision is rare enough that a few retries always suffice.
VOUCHER_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
VOUCHER_CODE_LENGTH = 13
VOUCHER_CODE_ATTEMPTS = 5
# PostgreSQL's name for the inline UNIQUE on Voucher.code (see orders/migrations/0001).
VOUCHER_CODE_CONSTRAINT = "orders_voucher_code_key"
ORDER_REFERENCE_CONSTRAINT = "order_reference_unique_per_company"


@dataclass(frozen=True)
class LineInput:
    sku: str
    quantity: int
    price: Decimal


@dataclass(frozen=True)
class Redemption:
    """The answer to a redemption: its HTTP status and wire body. `replayed` when it is the
    stored answer of an earlier request with the same Idempotency-Key (`order` is then None)."""

    status: int
    body: dict[str, Any]
    order: Order | None = None
    replayed: bool = False


def voucher_code_generate() -> str:
    return "".join(secrets.choice(VOUCHER_CODE_ALPHABET) for _ in range(VOUCHER_CODE_LENGTH))


def enqueue_voucher_fulfilment(voucher_ids: list[int]) -> None:
    """Hand pending vendor vouchers to the Celery fulfilment task (orders.fulfilment). Call it
    with transaction.on_commit, so a task never sees an uncommitted voucher. Never raises: a
    voucher whose task could not be sent is re-sent by the periodic pending sweep."""
    from .fulfilment import vouchers_enqueue  # fulfilment imports this module

    vouchers_enqueue(voucher_ids=voucher_ids)


def _validation_error(message: str, errors: dict[str, list[str]]) -> ApplicationError:
    return ApplicationError(message, type=OrderErrorType.VALIDATION_ERROR, errors=errors)


def _violates(exc: IntegrityError, constraint: str, sqlite_columns: str) -> bool:
    """Whether the IntegrityError is a violation of `constraint`. PostgreSQL names it in the
    diagnostics; SQLite (the embedded default) only names the columns in its message."""
    diag = getattr(exc.__cause__, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if name is not None:
        return name == constraint
    return sqlite_columns in str(exc)


def _order_check(
    *,
    order_total: Decimal,
    order_items: int,
    line_items: Sequence[LineInput],
    idempotency_key: str | None,
) -> None:
    """Rules that depend on the request alone. They run before an Idempotency-Key is claimed:
    their answer cannot change on a retry, so it is not stored, and a client may fix the body
    and retry with the same key."""
    if idempotency_key is not None and (
        not 1 <= len(idempotency_key) <= IDEMPOTENCY_KEY_MAX_LENGTH or "\x00" in idempotency_key
    ):
        raise _validation_error(
            "The Idempotency-Key header is invalid",
            {"Idempotency-Key": [f"Must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} characters, no NUL."]},
        )
    errors: dict[str, list[str]] = {}
    if not line_items:
        errors["line_items"] = ["At least one line item is required."]
    elif len(line_items) > MAX_LINE_ITEMS:
        errors["line_items"] = [f"At most {MAX_LINE_ITEMS} line items per order."]
    elif any(not 1 <= line.quantity <= MAX_QUANTITY_PER_LINE for line in line_items):
        errors["line_items"] = [f"Each quantity must be 1 to {MAX_QUANTITY_PER_LINE}."]
    elif any(line.price < 0 for line in line_items) or order_total < 0:
        errors["line_items"] = ["Prices and the total must not be negative."]
    if errors:
        raise _validation_error("The order is invalid", errors)
    units = sum(line.quantity for line in line_items)
    amount = sum((line.price * line.quantity for line in line_items), Decimal(0))
    if order_items != units:
        errors["order_items"] = [f"Must equal the sum of the line quantities ({units})."]
    if order_total != amount:
        errors["order_total"] = [
            f"Must equal the sum of price * quantity of the lines ({plain_number(amount)})."
        ]
    if errors:
        raise _validation_error("The order totals do not add up", errors)


def _request_hash(
    *,
    customer: Customer,
    order_timestamp: dt.datetime,
    order_total: Decimal,
    order_items: int,
    line_items: Sequence[LineInput],
    order_reference: str | None,
) -> str:
    """SHA-256 of the request's canonical JSON: what it means, not how it was spelt (1500 and
    "1500.00" are the same total; the same instant in two offsets is the same timestamp; fields
    the call ignores do not count). The customer is part of it: a key reused by another
    customer of the company is "reused with another request", never someone else's order."""
    canonical = {
        "customer_id": customer.pk,
        "order_timestamp": order_timestamp.astimezone(dt.UTC).isoformat(),
        "order_total": plain_number(order_total),
        "order_items": order_items,
        "order_reference": order_reference,
        "line_items": [[line.sku, line.quantity, plain_number(line.price)] for line in line_items],
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def order_redeem_skus(
    *,
    customer: Customer,
    company: Company,
    order_timestamp: dt.datetime,
    order_total: Decimal,
    order_items: int,
    line_items: Sequence[LineInput],
    order_reference: str | None = None,
    idempotency_key: str | None = None,
) -> Redemption:
    """Turn a purchase into an order: one voucher per purchased unit of a SKU mapped to a reward,
    stock for all of them taken together or not at all, points at the company's earn rate.

    Raises ApplicationError (422 validation_error, out_of_stock, duplicate_order_reference,
    idempotency_key_reused; 409 request_in_progress). With `idempotency_key`, the first answer
    (201 or a 422 that depends on the database) is stored and replayed for repeats."""
    if customer.company_id != company.pk:
        raise ValueError("the customer belongs to another company")
    if order_timestamp.tzinfo is None:
        raise _validation_error(
            "The order timestamp needs a UTC offset",
            {"order_timestamp": ["Must carry a UTC offset."]},
        )
    order_reference = order_reference or None
    _order_check(
        order_total=order_total,
        order_items=order_items,
        line_items=line_items,
        idempotency_key=idempotency_key,
    )

    def run() -> Redemption:
        order = _order_create(
            customer=customer,
            company=company,
            order_timestamp=order_timestamp,
            order_total=order_total,
            order_items=order_items,
            line_items=line_items,
            order_reference=order_reference,
        )
        # Rendered inside the transaction, from the database, so the stored replay, the 201
        # and GET /v1/orders/{id} are the same document.
        return Redemption(
            status=201, body=order_wire(order_get_for_answer(pk=order.pk)), order=order
        )

    if idempotency_key is None:
        with transaction.atomic():
            return run()
    return _idempotent(
        company=company,
        scope=IDEMPOTENCY_SCOPE_REDEEM,
        key=idempotency_key,
        request_hash=_request_hash(
            customer=customer,
            order_timestamp=order_timestamp,
            order_total=order_total,
            order_items=order_items,
            line_items=line_items,
            order_reference=order_reference,
        ),
        run=run,
    )


def _order_create(
    *,
    customer: Customer,
    company: Company,
    order_timestamp: dt.datetime,
    order_total: Decimal,
    order_items: int,
    line_items: Sequence[LineInput],
    order_reference: str | None,
) -> Order:
    """The business of a redemption. Runs inside the caller's transaction."""
    public_id = new_order_id()
    # First in the lock order. It also serialises one customer's orders, which keeps the points
    # counters simple (points_earn takes the same row again, already held).
    customer_lock(customer_id=customer.pk)

    by_code = rewards_for_skus(company=company, codes=[line.sku for line in line_items])
    line_rewards = [by_code.get(Sku.normalize(line.sku)) for line in line_items]
    quantities: dict[int, int] = defaultdict(int)
    for line, reward in zip(line_items, line_rewards, strict=True):
        if reward is not None:
            quantities[reward.pk] += line.quantity
    units = sum(quantities.values())
    if units > MAX_VOUCHERS_PER_ORDER:
        raise _validation_error(
            "The order would earn too many vouchers",
            {
                "line_items": [
                    f"An order earns at most {MAX_VOUCHERS_PER_ORDER} vouchers; "
                    f"this one would earn {units}."
                ]
            },
        )

    if (
        order_reference
        and Order.objects.filter(company=company, order_reference=order_reference).exists()
    ):
        raise _duplicate_reference_error(order_reference)

    # Stock for every reward of the order, all or nothing (rewards locked in pk order).
    try:
        locked = reward_stock_take(
            quantities=quantities, reason=StockMovement.Reason.ORDER, reference=public_id
        )
        pool = {
            rid: [c.code for c in pool_codes_take(reward=locked[rid], count=n)]
            for rid, n in sorted(quantities.items())
            if locked[rid].fulfilment == Reward.Fulfilment.POOL
        }
    except OutOfStock as exc:
        raise _out_of_stock_error(
            reward_ids=exc.reward_ids, line_items=line_items, line_rewards=line_rewards
        ) from exc

    has_vendor = any(r.fulfilment == Reward.Fulfilment.VENDOR for r in locked.values())
    points = points_for_amount(amount=order_total, rate=company.points_earn_rate)
    order = _order_insert(
        public_id=public_id,
        company=company,
        customer=customer,
        order_reference=order_reference,
        order_timestamp=order_timestamp,
        order_total=order_total,
        order_items=order_items,
        status=Order.Status.PENDING if has_vendor else Order.Status.FULFILLED,
        points_earned=points,
    )
    lines = LineItem.objects.bulk_create(
        LineItem(
            order=order,
            sku=line.sku,
            quantity=line.quantity,
            price=line.price,
            reward_id=reward.pk if reward is not None else None,
        )
        for line, reward in zip(line_items, line_rewards, strict=True)
    )
    vouchers = _vouchers_create(order=order, lines=lines, rewards=locked, pool=pool)
    points_earn(customer=customer, points=points, reason="order", reference=public_id)

    pending_ids = [v.pk for v in vouchers if v.status == Voucher.Status.PENDING]
    if pending_ids:
        transaction.on_commit(lambda: enqueue_voucher_fulfilment(pending_ids))
    return order


def _duplicate_reference_error(order_reference: str) -> ApplicationError:
    return ApplicationError(
        "An order with this order_reference already exists",
        type=OrderErrorType.DUPLICATE_ORDER_REFERENCE,
        errors={"order_reference": [f"{order_reference!r} is already used by another order."]},
    )


def _out_of_stock_error(
    *,
    reward_ids: Sequence[int],
    line_items: Sequence[LineInput],
    line_rewards: Sequence[Reward | None],
) -> ApplicationError:
    short = set(reward_ids)
    skus: list[str] = []
    for line, reward in zip(line_items, line_rewards, strict=True):
        if reward is not None and reward.pk in short and line.sku not in skus:
            skus.append(line.sku)
    return ApplicationError(
        "Not enough stock for: " + ", ".join(skus),
        type=OrderErrorType.OUT_OF_STOCK,
        errors={"line_items": [f"out of stock: {sku}" for sku in skus]},
        extra={"skus": skus, "reward_ids": sorted(short)},
    )


def _order_insert(**fields: Any) -> Order:
    """Insert the order; the unique constraint settles a race on order_reference that the
    pre-check could not see (the loser waits for the winner's commit, then fails here)."""
    try:
        with transaction.atomic():
            return Order.objects.create(**fields)
    except IntegrityError as exc:
        if fields.get("order_reference") and _violates(
            exc, ORDER_REFERENCE_CONSTRAINT, "orders_order.order_reference"
        ):
            raise _duplicate_reference_error(fields["order_reference"]) from exc
        raise


def _valid_till(reward: Reward, issued_on: dt.date) -> dt.date | None:
    """The earlier of issue date + validity_days and valid_until; None when neither is set."""
    candidates = []
    if reward.validity_days is not None:
        candidates.append(issued_on + dt.timedelta(days=reward.validity_days))
    if reward.valid_until is not None:
        candidates.append(reward.valid_until)
    return min(candidates, default=None)


def _vouchers_create(
    *,
    order: Order,
    lines: Sequence[LineItem],
    rewards: dict[int, Reward],
    pool: dict[int, list[str]],
) -> list[Voucher]:
    now = timezone.now()
    today = timezone.localdate(now)
    pool_left = {rid: iter(codes) for rid, codes in pool.items()}
    vouchers: list[Voucher] = []
    generated: list[Voucher] = []
    for line in lines:
        if line.reward_id is None:
            continue
        reward = rewards[line.reward_id]
        for _ in range(line.quantity):
            voucher = Voucher(
                company_id=order.company_id,
                customer_id=order.customer_id,
                reward=reward,
                order=order,
                line_item=line,
                denomination_value=reward.denomination_value,
            )
            if reward.fulfilment == Reward.Fulfilment.VENDOR:
                # No code and no validity until the vendor answers (the fulfilment task sets both).
                voucher.status = Voucher.Status.PENDING
            else:
                voucher.status = Voucher.Status.ISSUED
                voucher.issued_at = now
                voucher.valid_till = _valid_till(reward, today)
                if reward.fulfilment == Reward.Fulfilment.POOL:
                    voucher.code = next(pool_left[reward.pk])
                else:
                    generated.append(voucher)
            vouchers.append(voucher)
    if not vouchers:
        return []
    return _vouchers_insert(vouchers=vouchers, generated=generated)


def _codes_assign(vouchers: Sequence[Voucher]) -> None:
    codes: set[str] = set()
    for voucher in vouchers:
        for _ in range(VOUCHER_CODE_ATTEMPTS):
            code = voucher_code_generate()
            if code not in codes:
                break
        else:
            raise RuntimeError("the voucher code generator keeps repeating itself")
        codes.add(code)
        voucher.code = code


def _vouchers_insert(*, vouchers: list[Voucher], generated: list[Voucher]) -> list[Voucher]:
    """Insert the vouchers in one statement inside a savepoint. Voucher.code is unique in the
    database; on the (about 2^-64 per pair) collision of a generated code with an existing one,
    roll the savepoint back, draw fresh codes and try again, a few times."""
    for attempt in range(1, VOUCHER_CODE_ATTEMPTS + 1):
        _codes_assign(generated)
        try:
            with transaction.atomic():
                return Voucher.objects.bulk_create(vouchers)
        except IntegrityError as exc:
            collision = _violates(exc, VOUCHER_CODE_CONSTRAINT, "orders_voucher.code")
            if not generated or not collision or attempt == VOUCHER_CODE_ATTEMPTS:
                raise
            logger.warning("voucher code collision; drawing new codes (attempt %d)", attempt)
    raise AssertionError("unreachable")  # pragma: no cover


# --- Idempotency-Key -------------------------------------------------------------------------


def _is_lock_timeout(exc: OperationalError) -> bool:
    # PostgreSQL lock_not_available (55P03) from lock_timeout; SQLite's busy timeout.
    return getattr(exc.__cause__, "sqlstate", None) == "55P03" or "locked" in str(exc)


def _idempotency_claim(
    *, company: Company, scope: str, key: str, request_hash: str
) -> IdempotencyRecord | None:
    """Insert the key's record, or None when the key is already taken.

    While a first request with the key is still running, its uncommitted row makes this INSERT
    wait on the unique index: when the first commits, the INSERT fails (replay its answer); when
    it rolls back, the INSERT succeeds (this request runs). The wait is bounded by lock_timeout,
    set for this statement only (set_config(..., true) inside the savepoint, then restored)."""
    postgres = connection.vendor == "postgresql"
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if postgres:
                cursor.execute("SELECT current_setting('lock_timeout')")
                previous = cursor.fetchone()[0]
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [IDEMPOTENCY_WAIT])
            record = IdempotencyRecord.objects.create(
                company=company,
                scope=scope,
                key=key,
                request_hash=request_hash,
                response_status=0,
                response_body={},
            )
            if postgres:
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])
            return record
    except IntegrityError:
        return None
    except OperationalError as exc:
        if _is_lock_timeout(exc):
            raise ApplicationError(
                "A request with this Idempotency-Key is still being processed; retry later",
                type=OrderErrorType.REQUEST_IN_PROGRESS,
                status=409,
            ) from exc
        raise


_ENVELOPE_KEYS = frozenset({"name", "message", "code", "status", "type", "errors"})


def _idempotency_replay(*, company: Company, scope: str, key: str, request_hash: str) -> Redemption:
    record = IdempotencyRecord.objects.filter(company=company, scope=scope, key=key).first()
    if record is None:  # purged between our INSERT and this read: the client may simply retry
        raise ApplicationError(
            "A request with this Idempotency-Key is still being processed; retry later",
            type=OrderErrorType.REQUEST_IN_PROGRESS,
            status=409,
        )
    if record.request_hash != request_hash:
        raise ApplicationError(
            "This Idempotency-Key was used with a different request",
            type=OrderErrorType.IDEMPOTENCY_KEY_REUSED,
            errors={"Idempotency-Key": ["Already used with a different request body."]},
        )
    body = record.response_body
    if record.response_status >= 400:
        # Errors travel as exceptions; rebuilt from the stored envelope, the handler renders
        # the same document again.
        raise ApplicationError(
            body.get("message", ""),
            type=body.get("type", ""),
            status=record.response_status,
            errors=body.get("errors"),
            extra={k: v for k, v in body.items() if k not in _ENVELOPE_KEYS},
        )
    return Redemption(status=record.response_status, body=body, replayed=True)


def _idempotent(
    *,
    company: Company,
    scope: str,
    key: str,
    request_hash: str,
    run: Callable[[], Redemption],
) -> Redemption:
    """Run `run` at most once per (company, scope, key), storing its answer with the key in the
    same transaction. A business refusal (ApplicationError) is stored as its envelope, in a
    savepoint that undid the business writes; anything unexpected rolls the key back too, so a
    retry runs again."""
    failure: ApplicationError | None = None
    with transaction.atomic():
        record = _idempotency_claim(
            company=company, scope=scope, key=key, request_hash=request_hash
        )
        if record is not None:
            try:
                with transaction.atomic():
                    result = run()
            except ApplicationError as exc:
                failure = exc
                status = exc.status
                body = envelope(exc.status, exc.message, exc.type, exc.errors, **exc.extra)
            else:
                status, body = result.status, result.body
            record.response_status, record.response_body = status, body
            record.save(update_fields=["response_status", "response_body"])
    if record is None:
        return _idempotency_replay(company=company, scope=scope, key=key, request_hash=request_hash)
    if failure is not None:
        raise failure
    return result


def idempotency_records_purge(*, older_than: dt.timedelta, batch_size: int = 5_000) -> int:
    """Delete idempotency records older than `older_than` (at least 24 hours: the contract keeps
    keys that long), in batches so the table is never locked for long. Returns how many."""
    if older_than < IDEMPOTENCY_MIN_RETENTION:
        raise ValueError(f"idempotency keys are kept at least {IDEMPOTENCY_MIN_RETENTION}")
    cutoff = timezone.now() - older_than
    deleted = 0
    while True:
        ids = list(
            IdempotencyRecord.objects.filter(created_at__lt=cutoff)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return deleted
        deleted += IdempotencyRecord.objects.filter(pk__in=ids).delete()[0]
