"""The loyalty issue flow: rewards paid with points (the Capillary issue call, seed 003).

`reward_issue_bulk` issues the rewards of one call:

1. Rules on the request alone (counts, custom fields, duplicate requestIds, fulfilment status
   names) and, without `skip_validation=true`, the validation code (its own transaction, so a
   wrong code's attempt is counted even though the call fails).
2. One transaction. Locks, in the project's order: the customer row, the group row (group
   loyalty), then the rewards' rows in primary-key order (loyalty.pricing.rewards_price).
   `requestId`s already answered are replays: their stored answer is returned, nothing moves.
3. The points of every reward that can be issued are summed; if the customer's (or the pool's)
   available points are short, the whole call is refused (insufficient_points) and rolls back:
   nothing issued, nothing deducted, no requestId used up.
4. Each reward is then issued in its own savepoint; one that fails (out of stock, window,
   segment, unknown, vendor) is recorded with its own status and the others go on. Points move
   only for what was issued: spent for generated and pool codes, HELD per voucher for vendor
   rewards (captured or released by `reward_issue_voucher_settled` when fulfilment answers).
5. After commit, vendor vouchers are handed to background fulfilment (inline on the embedded
   default, so the answer read back after commit already carries the vendor's voucher).

`reward_issue_voucher_settled` is the contract with background fulfilment: fulfilment calls it,
inside its own transaction, once a vendor voucher that was paid with points reaches a final
state (issued or failed).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from companies.models import Company
from config.api.errors import ApplicationError
from config.api.loyalty import CODE_FOR_TYPE, LoyaltyCode, status_block
from customers.models import Customer
from loyalty import services as points
from loyalty.models import CustomerGroup
from loyalty.pricing import Ask, Priced, Refusal, rewards_price
from rewards.models import Reward, StockMovement
from rewards.services import OutOfStock, pool_codes_take, reward_stock_take

from . import services as order_services
from .loyalty_serializers import reward_issue_wire, wire_number
from .models import FulfilmentStatus, RewardIssue, Voucher
from .services import _valid_till, _vouchers_insert

logger = logging.getLogger(__name__)

# Limits on one call (docs/loyalty.md).
MAX_REWARDS_PER_CALL = 50
MAX_VOUCHERS_PER_CALL = 1_000
MAX_CUSTOM_FIELDS = 10
CUSTOM_FIELD_KEY_MAX = 50
CUSTOM_FIELD_VALUE_MAX = 500
REQUEST_ID_MAX = RewardIssue._meta.get_field("request_id").max_length

MESSAGE_ISSUED = "Reward issued successfully"
MESSAGE_PENDING = "Reward accepted; waiting on the vendor"


@dataclass(frozen=True)
class IssueItem:
    """One `rewards[i]` of the issue call, parsed."""

    reward_id: int
    quantity: Decimal
    org_id: int | None = None
    request_id: str | None = None
    payment_config_id: int | None = None
    custom_fields: dict[str, Any] = field(default_factory=dict)
    fulfilment_details: dict[str, Any] | None = None


@dataclass(frozen=True)
class IssueResult:
    """The answer of the issue call: HTTP status and the seed's body."""

    http_status: int
    body: dict[str, Any]


def _invalid(message: str, errors: dict[str, list[str]]) -> ApplicationError:
    return ApplicationError(message, type="validation_error", status=422, errors=errors)


def custom_fields_check(value: Any, *, where: str) -> dict[str, Any]:
    """At most 10 custom fields; keys 1..50 characters; values strings (≤ 500), numbers,
    booleans or null."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid("customFields must be an object", {where: ["must be a JSON object"]})
    if len(value) > MAX_CUSTOM_FIELDS:
        raise _invalid(
            f"At most {MAX_CUSTOM_FIELDS} custom fields",
            {where: [f"at most {MAX_CUSTOM_FIELDS} keys"]},
        )
    for key, item in value.items():
        if not 1 <= len(key) <= CUSTOM_FIELD_KEY_MAX:
            raise _invalid("Custom field name too long", {where: [f"bad key {key[:60]!r}"]})
        if isinstance(item, dict | list) or (
            isinstance(item, str) and len(item) > CUSTOM_FIELD_VALUE_MAX
        ):
            raise _invalid(
                "Custom field values are strings (≤ 500), numbers, booleans or null",
                {where: [f"bad value for {key!r}"]},
            )
    return dict(value)


def _call_check(*, items: Sequence[IssueItem], custom_fields: dict[str, Any]) -> None:
    """Rules on the request alone; a refusal here changes nothing and uses no requestId."""
    if not items:
        raise _invalid("At least one reward is required", {"rewards": ["must not be empty"]})
    if len(items) > MAX_REWARDS_PER_CALL:
        raise _invalid(
            f"At most {MAX_REWARDS_PER_CALL} rewards per call",
            {"rewards": [f"at most {MAX_REWARDS_PER_CALL}"]},
        )
    seen: set[str] = set()
    for i, item in enumerate(items):
        if len({**custom_fields, **item.custom_fields}) > MAX_CUSTOM_FIELDS:
            raise _invalid(
                f"At most {MAX_CUSTOM_FIELDS} custom fields per reward",
                {f"rewards[{i}].customFields": [f"with the call's, at most {MAX_CUSTOM_FIELDS}"]},
            )
        custom_fields_check(item.custom_fields, where=f"rewards[{i}].customFields")
        if item.request_id is None:
            continue
        if not 1 <= len(item.request_id) <= REQUEST_ID_MAX:
            raise _invalid(
                "requestId is too long", {f"rewards[{i}].requestId": [f"1..{REQUEST_ID_MAX}"]}
            )
        if item.request_id in seen:
            raise _invalid(
                "Each reward of a call needs its own requestId",
                {f"rewards[{i}].requestId": ["repeated within the call"]},
            )
        seen.add(item.request_id)


def _fulfilment_statuses(
    *, company: Company, items: Sequence[IssueItem]
) -> dict[int, FulfilmentStatus]:
    """The FulfilmentStatus each item names in fulfillmentDetails.status (by index)."""
    names = {
        i: str(item.fulfilment_details["status"]).strip()
        for i, item in enumerate(items)
        if item.fulfilment_details and item.fulfilment_details.get("status") not in (None, "")
    }
    if not names:
        return {}
    known = {
        s.name.upper(): s
        for s in FulfilmentStatus.objects.filter(company=company, name__in=set(names.values()))
    }
    # Case-insensitive: one more query only when the exact names missed.
    if len(known) < len({n.upper() for n in names.values()}):
        known = {s.name.upper(): s for s in FulfilmentStatus.objects.filter(company=company)}
    found: dict[int, FulfilmentStatus] = {}
    for i, name in names.items():
        status = known.get(name.upper())
        if status is None:
            raise _invalid(
                f"Unknown fulfilment status {name!r}",
                {f"rewards[{i}].fulfillmentDetails.status": ["not a status of this company"]},
            )
        found[i] = status
    return found


def _replays(*, company: Company, items: Sequence[IssueItem]) -> dict[str, RewardIssue]:
    ids = [item.request_id for item in items if item.request_id is not None]
    if not ids:
        return {}
    return {
        issue.request_id: issue
        for issue in RewardIssue.objects.filter(company=company, request_id__in=ids)
    }


def _is_replay_of(issue: RewardIssue, *, customer: Customer, item: IssueItem) -> bool:
    """A requestId answers again only for the same customer, reward and quantity; anything
    else is a reuse of the key (duplicate_request), never someone else's answer."""
    return (
        issue.customer_id == customer.pk
        and issue.response.get("rewardId") == item.reward_id
        and issue.requested_quantity == _stored_quantity(item.quantity)
    )


def _duplicate_answer(item: IssueItem, org_id: int) -> dict[str, Any]:
    return {
        "status": status_block(
            LoyaltyCode.DUPLICATE_REQUEST,
            "This requestId was already used for another reward or customer",
            success=False,
        ),
        "orgId": org_id,
        "transactionId": None,
        "rewardId": item.reward_id,
        "requestId": item.request_id,
        "requestedQuantity": wire_number(item.quantity),
        "quantity": 0,
    }


def reward_issue_bulk(
    *,
    company: Company,
    customer: Customer,
    items: Sequence[IssueItem],
    scope: frozenset[int],
    store_code: str = "",
    transaction_number: str = "",
    notes: str = "",
    event_log_id: str = "",
    custom_fields: dict[str, Any] | None = None,
    group: CustomerGroup | None = None,
    skip_validation: bool = True,
    validation_code: str | None = None,
) -> IssueResult:
    """Issue `items` to `customer` (of `company`, the caller), paid with points from the
    customer's balance or, with `group`, from the group's pool. See the module docstring.

    Raises ApplicationError for whole-call refusals (validation_error, validation_code_invalid,
    insufficient_points); per-reward failures are answers, not exceptions."""
    if customer.company_id != company.pk:
        raise ValueError("the customer belongs to another company")
    if group is not None and group.company_id != company.pk:
        raise ValueError("the group belongs to another company")
    call_fields = custom_fields_check(custom_fields, where="customFields")
    _call_check(items=items, custom_fields=call_fields)
    statuses = _fulfilment_statuses(company=company, items=items)

    code_id: int | None = None
    if not skip_validation:
        known = _replays(company=company, items=items)
        all_replays = all(
            item.request_id in known
            and _is_replay_of(known[item.request_id], customer=customer, item=item)
            for item in items
        )
        # A replay moves nothing, so it needs no fresh code (the first call used it up).
        if not all_replays:
            if not validation_code:
                raise ApplicationError(
                    "validationCode is required unless skip_validation=true",
                    type="validation_code_invalid",
                    status=422,
                    errors={"validationCode": ["required"]},
                )
            code_id = points.validation_code_verify(customer=customer, code=validation_code)

    common = {
        "company": company,
        "customer": customer,
        "group": group,
        "store_code": store_code,
        "transaction_number": transaction_number,
        "notes": notes,
        "event_log_id": event_log_id,
    }
    answers: list[dict[str, Any]] = []
    pending: list[int] = []
    with transaction.atomic():
        # Lock order: customer, group, then rewards (inside rewards_price).
        locked_customer = points.customer_lock(customer_id=customer.pk)
        holder = points.group_lock(group_id=group.pk) if group is not None else locked_customer
        replays = _replays(company=company, items=items)
        fresh = [i for i, item in enumerate(items) if item.request_id not in replays]
        if code_id is not None and fresh:
            points.validation_code_consume(code_id=code_id)
        priced = rewards_price(
            company=company,
            customer=locked_customer,
            asks=[
                Ask(
                    reward_id=items[i].reward_id, quantity=items[i].quantity, org_id=items[i].org_id
                )
                for i in fresh
            ],
            scope=scope,
            lock=True,
        )
        by_index = dict(zip(fresh, priced, strict=True))
        for i in fresh:
            p = by_index[i]
            config_id = items[i].payment_config_id
            if p.ok and config_id is not None and p.reward is not None and config_id != p.reward.pk:
                p.refusal = Refusal("validation_error", f"Unknown payment config {config_id}")
        vouchers_total = sum(p.quote.vouchers for p in priced if p.ok and p.quote)
        if vouchers_total > MAX_VOUCHERS_PER_CALL:
            raise _invalid(
                f"A call issues at most {MAX_VOUCHERS_PER_CALL} vouchers",
                {"rewards": [f"this call would issue {vouchers_total}"]},
            )
        needed = sum(p.quote.points for p in priced if p.ok and p.quote)
        if needed > holder.points_available:
            raise ApplicationError(
                f"Not enough points: {needed} needed, {holder.points_available} available",
                type="insufficient_points",
                status=422,
            )
        # Issue in requestId order, answer in request order: an INSERT of a requestId waits on
        # the unique index for another call holding the same one, so two customers' calls naming
        # the same requestIds in opposite order would otherwise wait on each other (deadlock).
        by_position: dict[int, dict[str, Any]] = {}
        for i in sorted(
            range(len(items)),
            key=lambda j: (items[j].request_id is None, items[j].request_id or "", j),
        ):
            item = items[i]
            if i not in by_index:
                stored = replays[item.request_id]  # type: ignore[index]
                if _is_replay_of(stored, customer=customer, item=item):
                    by_position[i] = stored.response
                else:
                    by_position[i] = _duplicate_answer(item, item.org_id or company.pk)
                continue
            answer, issue_id, is_pending = _item_issue(
                item=item,
                priced=by_index[i],
                fulfilment_status=statuses.get(i),
                custom_fields={**call_fields, **item.custom_fields},
                **common,
            )
            by_position[i] = answer
            if is_pending and issue_id is not None:
                pending.append(issue_id)
        answers.extend(by_position[i] for i in range(len(items)))
        if pending:
            voucher_ids = list(
                Voucher.objects.filter(
                    issue_id__in=pending, status=Voucher.Status.PENDING
                ).values_list("pk", flat=True)
            )
            # After commit: a task must never see an uncommitted voucher. robust: a broker
            # outage must not turn an issued (and committed) call into an error; the periodic
            # sweep re-enqueues pending vouchers.
            transaction.on_commit(
                lambda: order_services.enqueue_voucher_fulfilment(voucher_ids), robust=True
            )
    if pending:
        # Eager fulfilment (the embedded default) has settled them by now: answer what is true.
        settled = dict(RewardIssue.objects.filter(pk__in=pending).values_list("pk", "response"))
        answers = [settled.get(a.get("transactionId"), a) for a in answers]
    return _call_answer(answers)


def _call_answer(answers: list[dict[str, Any]]) -> IssueResult:
    """Top-level status: 200 all issued; 202 all issued or pending on a vendor; 207 (success)
    some failed; every reward failed: 422 with their common code, or 1029 when they differ."""
    codes = [a["status"]["code"] for a in answers]
    ok = [c for c in codes if c in (LoyaltyCode.OK, LoyaltyCode.PENDING)]
    if len(ok) == len(codes):
        if all(c == LoyaltyCode.OK for c in codes):
            top = status_block(LoyaltyCode.OK, MESSAGE_ISSUED)
        else:
            top = status_block(LoyaltyCode.PENDING, MESSAGE_PENDING)
        return IssueResult(200, {"status": top, "rewards": answers})
    if ok:
        top = status_block(
            LoyaltyCode.PARTIALLY_ISSUED,
            f"{len(ok)} of {len(codes)} rewards issued; see each reward's status",
            success=True,
        )
        return IssueResult(200, {"status": top, "rewards": answers})
    if len(set(codes)) == 1:
        top = status_block(codes[0], answers[0]["status"]["message"], success=False)
    else:
        top = status_block(LoyaltyCode.NOTHING_ISSUED, "No reward was issued", success=False)
    return IssueResult(422, {"status": top, "rewards": answers})


def _item_issue(
    *,
    company: Company,
    customer: Customer,
    group: CustomerGroup | None,
    item: IssueItem,
    priced: Priced,
    fulfilment_status: FulfilmentStatus | None,
    custom_fields: dict[str, Any],
    store_code: str,
    transaction_number: str,
    notes: str,
    event_log_id: str,
) -> tuple[dict[str, Any], int | None, bool]:
    """Issue one reward in its own savepoint, or record its failure. Returns its answer, the
    RewardIssue id (None when the requestId turned out taken) and whether it waits on a vendor."""
    now = timezone.now()
    base = {
        "company": company,
        # An org outside the call's scope may not even exist: record the caller's then.
        "org_id": company.pk
        if priced.refusal is not None and priced.refusal.type == "org_not_in_scope"
        else priced.org_id,
        "customer": customer,
        "reward": priced.reward,
        "store_code": store_code[:64],
        "request_id": item.request_id,
        "requested_quantity": _stored_quantity(item.quantity),
        "transaction_number": transaction_number,
        "notes": notes,
        "event_log_id": event_log_id,
        "custom_fields": custom_fields,
        "group": group,
        "fulfilment_status": fulfilment_status,
        "fulfilment_updated_at": now if fulfilment_status else None,
    }
    details = dict(item.fulfilment_details) if item.fulfilment_details else None
    if details:
        details.pop("status", None)
    failure = priced.refusal
    if failure is None:
        try:
            with transaction.atomic():
                issue = RewardIssue.objects.create(
                    **base, status=RewardIssue.Status.PENDING, result_code=LoyaltyCode.PENDING
                )
                answer, is_pending = _issue_vouchers(
                    issue=issue, item=item, priced=priced, group=group, details=details
                )
                return answer, issue.pk, is_pending
        except OutOfStock:
            failure = Refusal("out_of_stock", "The reward is out of stock")
        except IntegrityError as exc:
            if not _request_id_taken(exc):
                raise
            return _duplicate_answer(item, base["org_id"]), None, False
        except ApplicationError as exc:
            failure = Refusal(exc.type, exc.message)
    # A failure is recorded too: its requestId replays the same answer.
    code = CODE_FOR_TYPE.get(failure.type, LoyaltyCode.INVALID_REQUEST)
    try:
        with transaction.atomic():
            issue = RewardIssue.objects.create(
                **{**base, "fulfilment_status": None, "fulfilment_updated_at": None},
                status=RewardIssue.Status.FAILED,
                result_code=code,
                message=failure.message[:300],
            )
            issue.response = _wire(issue, item=item, reward=priced.reward)
            issue.save(update_fields=["response"])
            return issue.response, issue.pk, False
    except IntegrityError as exc:
        if not _request_id_taken(exc):
            raise
        return _duplicate_answer(item, base["org_id"]), None, False


def _request_id_taken(exc: IntegrityError) -> bool:
    # Another customer's call committed the same requestId while we ran (our INSERT waited for
    # it on the unique index). Same-customer replays never get here: the customer lock
    # serialises them and the replay check sees the committed row.
    return order_services._violates(
        exc, "reward_issue_request_id_unique_per_company", "orders_rewardissue.company_id"
    )


def _stored_quantity(quantity: Decimal) -> Decimal:
    # The column holds 10 integer digits and 4 decimals: keep what was asked, within range.
    bound = Decimal("9999999999.9999")
    return max(min(quantity, bound), -bound).quantize(Decimal("0.0001"))


def _wire(
    issue: RewardIssue,
    *,
    item: IssueItem | None = None,
    reward: Reward | None,
    vouchers: Sequence[Voucher] = (),
    points_refs: Sequence[str] = (),
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return reward_issue_wire(
        issue=issue,
        reward_id=item.reward_id if item is not None else issue.reward_id,
        org_id=(item.org_id or issue.org_id) if item is not None else issue.org_id,
        reward=reward,
        vouchers=vouchers,
        points_refs=points_refs,
        fulfilment_details=details,
    )


def _issue_vouchers(
    *,
    issue: RewardIssue,
    item: IssueItem,
    priced: Priced,
    group: CustomerGroup | None,
    details: dict[str, Any] | None,
) -> tuple[dict[str, Any], bool]:
    """Stock, vouchers and points for one priced reward, inside the caller's savepoint."""
    assert priced.reward is not None and priced.quote is not None
    quote = priced.quote
    reference = f"issue:{issue.pk}"
    locked = reward_stock_take(
        quantities={priced.reward.pk: quote.vouchers},
        reason=StockMovement.Reason.ISSUE,
        reference=reference,
    )
    reward = locked[priced.reward.pk]
    reward.vendor = priced.reward.vendor
    now = timezone.now()
    today = timezone.localdate(now)
    codes: list[str] = []
    if reward.fulfilment == Reward.Fulfilment.POOL:
        codes = [c.code for c in pool_codes_take(reward=reward, count=quote.vouchers)]
    is_vendor = reward.fulfilment == Reward.Fulfilment.VENDOR
    # CONV_RATIO: one voucher worth the whole quantity; POINTS: one voucher per unit.
    value = (
        reward.denomination_value * quote.quantity
        if reward.payment_mode == Reward.PaymentMode.CONV_RATIO
        else reward.denomination_value
    )
    vouchers: list[Voucher] = []
    generated: list[Voucher] = []
    for n in range(quote.vouchers):
        voucher = Voucher(
            company_id=issue.company_id,
            customer_id=issue.customer_id,
            reward=reward,
            issue=issue,
            denomination_value=value,
            points_spent=quote.points_per_voucher,
        )
        if is_vendor:
            voucher.status = Voucher.Status.PENDING
        else:
            voucher.status = Voucher.Status.ISSUED
            voucher.issued_at = now
            voucher.valid_till = _valid_till(reward, today)
            if codes:
                voucher.code = codes[n]
            else:
                generated.append(voucher)
        vouchers.append(voucher)
    vouchers = _vouchers_insert(vouchers=vouchers, generated=generated)

    refs: list[str] = []
    customer = issue.customer
    if is_vendor:
        # Held per voucher: fulfilment settles each one (capture or release) on its own.
        for voucher in vouchers:
            if voucher.points_spent > 0:
                entry = points.points_hold(
                    customer=customer,
                    points=voucher.points_spent,
                    reason="reward issue: held while the vendor answers",
                    reference=f"voucher:{voucher.pk}",
                    group=group,
                )
                refs.append(str(entry.pk))
    elif quote.points > 0:
        entry = points.points_spend(
            customer=customer,
            points=quote.points,
            reason="reward issued",
            reference=reference,
            group=group,
        )
        refs.append(str(entry.pk))

    issue.quantity = quote.quantity
    issue.points = quote.points
    if is_vendor:
        issue.status, issue.result_code, issue.message = (
            RewardIssue.Status.PENDING,
            LoyaltyCode.PENDING,
            MESSAGE_PENDING,
        )
    else:
        issue.status, issue.result_code, issue.message = (
            RewardIssue.Status.ISSUED,
            LoyaltyCode.OK,
            MESSAGE_ISSUED,
        )
    issue.response = _wire(
        issue, item=item, reward=reward, vouchers=vouchers, points_refs=refs, details=details
    )
    issue.save(update_fields=["quantity", "points", "status", "result_code", "message", "response"])
    return issue.response, is_vendor


# --- Later changes to an issued reward ----------------------------------------------------------


def _issue_rerender(issue: RewardIssue) -> None:
    """Refresh the stored answer from the issue's row and vouchers, keeping what only the first
    answer knew (points references, the fulfilment details sent, the orgId asked)."""
    previous = issue.response or {}
    reward = issue.reward
    vouchers = list(issue.vouchers.order_by("id")) if reward is not None else []
    details = previous.get("fulfillmentDetails")
    if details:
        details = {k: v for k, v in details.items() if k not in ("status", "updatedAt")}
    answer = reward_issue_wire(
        issue=issue,
        reward_id=previous.get("rewardId", issue.reward_id),
        org_id=previous.get("orgId", issue.org_id),
        reward=reward,
        vouchers=vouchers,
        points_refs=previous.get("pointsReferenceIds", []),
        fulfilment_details=details,
    )
    issue.response = answer


def reward_issue_voucher_settled(*, voucher: Voucher) -> None:
    """Capture (voucher issued) or release (voucher failed) the points held for `voucher`, in
    the customer's balance or the group's pool, then bring its RewardIssue's status and stored
    answer up to date. Must run inside the caller's transaction, after the voucher's final
    status is set, and only once per voucher (the caller moves it out of `pending` under its row
    lock)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("reward_issue_voucher_settled must run inside a transaction")
    issue = voucher.issue if voucher.issue_id is not None else None
    if voucher.points_spent > 0:
        reference = f"voucher:{voucher.pk}"
        # A group redemption held the points in the group's pool: settle them there.
        group = issue.group if issue is not None else None
        if voucher.status == Voucher.Status.ISSUED:
            points.points_capture(
                customer=voucher.customer,
                points=voucher.points_spent,
                reason="vendor voucher issued",
                reference=reference,
                group=group,
            )
        elif voucher.status == Voucher.Status.FAILED:
            points.points_release(
                customer=voucher.customer,
                points=voucher.points_spent,
                reason="vendor voucher failed",
                reference=reference,
                group=group,
            )
    if issue is not None:
        _reward_issue_refresh(issue_id=issue.pk)


def _reward_issue_refresh(*, issue_id: int) -> RewardIssue:
    """Recompute a vendor issue's status from its vouchers (under the issue's row lock: two of
    its vouchers may settle at once in two workers)."""
    issue = (
        RewardIssue.objects.select_for_update(of=("self",))
        .select_related("reward")
        .get(pk=issue_id)
    )
    states = list(issue.vouchers.values_list("status", "points_spent"))
    issued = [p for s, p in states if s in (Voucher.Status.ISSUED, Voucher.Status.REDEEMED)]
    if not states or issue.status == RewardIssue.Status.FAILED:
        return issue
    if any(s == Voucher.Status.PENDING for s, _ in states):
        issue.status, issue.result_code, issue.message = (
            RewardIssue.Status.PENDING,
            LoyaltyCode.PENDING,
            MESSAGE_PENDING,
        )
    elif not issued:
        issue.status, issue.result_code, issue.message = (
            RewardIssue.Status.FAILED,
            LoyaltyCode.VENDOR_FAILED,
            "The vendor could not issue the voucher; the points were released",
        )
        issue.quantity, issue.points = 0, 0
    else:
        conv = issue.reward is not None and (
            issue.reward.payment_mode == Reward.PaymentMode.CONV_RATIO
        )
        issue.status, issue.result_code = RewardIssue.Status.ISSUED, LoyaltyCode.OK
        issue.message = (
            MESSAGE_ISSUED
            if len(issued) == len(states)
            else f"{len(issued)} of {len(states)} vouchers issued; the rest were released"
        )
        issue.quantity = issue.quantity if conv else len(issued)
        issue.points = sum(issued)
    _issue_rerender(issue)
    issue.save(update_fields=["status", "result_code", "message", "quantity", "points", "response"])
    return issue


@transaction.atomic
def reward_issue_fulfilment_set(
    *, company: Company, issue_id: int, status: str, details: dict[str, Any] | None = None
) -> RewardIssue:
    """Move an issued reward of `company` to one of the company's fulfilment statuses (BOOKED,
    SHIPPED, ...), keeping any other fulfilment details sent. 404 for another company's issue;
    validation_error for an unknown status or a failed issue."""
    issue = (
        RewardIssue.objects.select_for_update(of=("self",))
        .select_related("reward")
        .filter(company=company, pk=issue_id)
        .first()
    )
    if issue is None:
        raise ApplicationError("No such reward transaction", type="not_found", status=404)
    if issue.status == RewardIssue.Status.FAILED:
        raise _invalid(
            "A reward that was not issued has no fulfilment", {"status": ["issue failed"]}
        )
    name = (status or "").strip()
    found = FulfilmentStatus.objects.filter(company=company, name__iexact=name).first()
    if found is None:
        raise _invalid(
            f"Unknown fulfilment status {name!r}", {"status": ["not a status of this company"]}
        )
    issue.fulfilment_status = found
    issue.fulfilment_updated_at = timezone.now()
    _issue_rerender(issue)
    if details is not None:
        extra = {k: v for k, v in details.items() if k not in ("status", "updatedAt")}
        current = issue.response.get("fulfillmentDetails") or {}
        issue.response["fulfillmentDetails"] = {**current, **extra}
    issue.save(update_fields=["fulfilment_status", "fulfilment_updated_at", "response"])
    return issue
