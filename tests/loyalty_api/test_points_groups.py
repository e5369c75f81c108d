"""Group loyalty in the points engine: a group's pool moves under its own row lock, and its
ledger rows name the group and the member who acted."""

from __future__ import annotations

import pytest
from django.db import transaction

from config.api.errors import ApplicationError
from loyalty import services
from loyalty.models import CustomerGroup, PointsLedgerEntry
from loyalty.selectors import balances_from_ledger, group_balances_from_ledger
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def group(tenant):
    primary = CustomerFactory(company=tenant.company)
    group = CustomerGroup.objects.create(
        company=tenant.company, name="Family", primary_customer=primary
    )
    group.members.add(primary)
    return group


def test_group_changes_move_the_pool_not_the_members_own_points(group):
    member = group.primary_customer
    services.points_earn(customer=member, points=40, reason="own order")
    with transaction.atomic():
        services.points_adjust(customer=member, points=100, reason="pool top-up", group=group)
        services.points_hold(customer=member, points=30, reason="vendor", group=group)
        services.points_capture(customer=member, points=20, reason="vendor ok", group=group)
        services.points_release(customer=member, points=10, reason="vendor failed", group=group)
        services.points_spend(customer=member, points=5, reason="reward", group=group)
    group.refresh_from_db()
    member.refresh_from_db()
    assert (group.points_balance, group.points_held) == (75, 0)
    assert (member.points_balance, member.points_held) == (40, 0)
    assert group_balances_from_ledger(group=group) == (75, 0)
    assert balances_from_ledger(customer=member) == (40, 0)
    rows = PointsLedgerEntry.objects.filter(group=group).order_by("id")
    assert [r.customer_id for r in rows] == [member.pk] * 5
    assert rows.last().balance_after == 75


def test_the_pool_cannot_be_overdrawn(group):
    member = group.primary_customer
    services.points_earn(customer=member, points=1000, reason="own order")
    services.points_adjust(customer=member, points=10, reason="pool top-up", group=group)
    with pytest.raises(ApplicationError) as err:
        services.points_spend(customer=member, points=11, reason="reward", group=group)
    assert err.value.type == "insufficient_points"
    group.refresh_from_db()
    assert group.points_balance == 10


def test_a_group_of_another_company_is_refused(group, other_tenant):
    stranger = CustomerFactory(company=other_tenant.company)
    with pytest.raises(ValueError):
        services.points_earn(customer=stranger, points=5, reason="x", group=group)
