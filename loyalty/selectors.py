from __future__ import annotations

from django.db.models import Q, QuerySet, Sum

from companies.models import Company
from config.api.errors import ApplicationError
from customers.models import Customer

from .models import CustomerGroup, PointsLedgerEntry


def ledger_for_customer(*, customer: Customer) -> QuerySet[PointsLedgerEntry]:
    return PointsLedgerEntry.objects.filter(customer=customer, group__isnull=True).order_by("-id")


def balances_from_ledger(*, customer: Customer) -> tuple[int, int]:
    """(balance, held) recomputed from the ledger alone: must equal the counters on Customer."""
    sums = PointsLedgerEntry.objects.filter(customer=customer, group__isnull=True).aggregate(
        balance=Sum("points"), held=Sum("held")
    )
    return sums["balance"] or 0, sums["held"] or 0


def group_balances_from_ledger(*, group: CustomerGroup) -> tuple[int, int]:
    """(balance, held) of a group's pool recomputed from its ledger rows alone."""
    sums = PointsLedgerEntry.objects.filter(group=group).aggregate(
        balance=Sum("points"), held=Sum("held")
    )
    return sums["balance"] or 0, sums["held"] or 0


# --- Connected orgs --------------------------------------------------------------------------

DATA_SCOPES = ("SELF", "OTHER")


def _org_ids(text: str) -> list[int]:
    """`DATA-SCOPE-ORG`: org ids (Company.pk) separated by commas or spaces, brackets allowed."""
    parts = text.replace("[", " ").replace("]", " ").replace(",", " ").split()
    if not parts or len(parts) > 100:
        raise ApplicationError(
            "DATA-SCOPE-ORG must list 1 to 100 org ids",
            type="validation_error",
            status=400,
            errors={"DATA-SCOPE-ORG": ["comma-separated org ids"]},
        )
    try:
        return [int(p) for p in parts]
    except ValueError as exc:
        raise ApplicationError(
            "DATA-SCOPE-ORG must list org ids (numbers)",
            type="validation_error",
            status=400,
            errors={"DATA-SCOPE-ORG": ["comma-separated org ids"]},
        ) from exc


def org_scope(
    *, company: Company, data_scope: str | None, data_scope_org: str | None
) -> frozenset[int]:
    """The org ids (Company.pk) whose rewards this call may reach.

    * No headers, or `DATA-SCOPE: SELF`: the calling company only.
    * `DATA-SCOPE: OTHER` (the default when only `DATA-SCOPE-ORG` is sent): the calling company
      and the orgs listed in `DATA-SCOPE-ORG` (all its active children when none is listed).
    * A listed org that is not the caller or one of its direct, active children refuses the
      whole call (org_not_in_scope, 403): a child never reaches its parent or a sibling."""
    scope = (data_scope or "").strip().upper() or ("OTHER" if data_scope_org else "SELF")
    if scope not in DATA_SCOPES:
        raise ApplicationError(
            "DATA-SCOPE must be SELF or OTHER",
            type="validation_error",
            status=400,
            errors={"DATA-SCOPE": ["SELF or OTHER"]},
        )
    if scope == "SELF":
        return frozenset({company.pk})
    children = set(
        Company.objects.filter(parent=company, status=Company.Status.ACTIVE).values_list(
            "pk", flat=True
        )
    )
    if not data_scope_org:
        return frozenset({company.pk, *children})
    wanted = set(_org_ids(data_scope_org))
    outside = sorted(wanted - children - {company.pk})
    if outside:
        raise ApplicationError(
            f"Org {outside[0]} is not the calling org or one of its child orgs",
            type="org_not_in_scope",
            status=403,
        )
    return frozenset({company.pk, *wanted})


# --- Group loyalty ---------------------------------------------------------------------------


def _group_not_found(message: str = "No such customer group for this customer") -> ApplicationError:
    return ApplicationError(message, type="group_not_found", status=404)


def _positive_int(value: object) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise _group_not_found() from None
    if number < 1:
        raise _group_not_found()
    return number


def customer_group_for_redemption(
    *,
    customer: Customer,
    primary_user_id: object = None,
    group_id: object = None,
    external_id: object = None,
) -> CustomerGroup | None:
    """The group a `user_group2_*` field names, or None when none is given.

    The group must belong to the customer's company and the customer must be its primary member
    or a member: nobody spends a pool they are not part of. Several fields must name the same
    group. Anything else is group_not_found (404)."""
    given = {
        k: v
        for k, v in {"primary": primary_user_id, "id": group_id, "external": external_id}.items()
        if v is not None and str(v).strip() != ""
    }
    if not given:
        return None
    groups = CustomerGroup.objects.filter(company_id=customer.company_id)
    if "id" in given:
        groups = groups.filter(pk=_positive_int(given["id"]))
    if "external" in given:
        groups = groups.filter(external_id=str(given["external"]).strip())
    if "primary" in given:
        groups = groups.filter(primary_customer_id=_positive_int(given["primary"]))
    groups = groups.filter(Q(primary_customer=customer) | Q(members=customer)).distinct()
    found = list(groups.order_by("pk")[:2])
    if not found:
        raise _group_not_found()
    if len(found) > 1:
        raise _group_not_found(
            "Several groups match; name the group by user_group2_id or user_group2_external_id"
        )
    return found[0]
