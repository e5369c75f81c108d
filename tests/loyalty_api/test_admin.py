"""Back-office: adjust points with a reason, customer groups, fulfilment statuses and issued
rewards."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from loyalty.models import CustomerGroup, PointsLedgerEntry
from loyalty.selectors import balances_from_ledger, group_balances_from_ledger
from orders.models import FulfilmentStatus, RewardIssue
from tests.factories import CustomerFactory

from .conftest import assert_loyalty, issue, issue_body

pytestmark = pytest.mark.django_db

ADJUST = "/admin/loyalty/pointsledgerentry/adjust/"


@pytest.fixture
def root() -> Client:
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456")
    client = Client()
    client.force_login(user)
    return client


def test_staff_adjust_a_balance_with_a_reason(root, member):
    page = root.get("/admin/loyalty/pointsledgerentry/")
    assert page.status_code == 200 and ADJUST.encode() in page.content
    assert root.get(ADJUST).status_code == 200
    response = root.post(
        ADJUST, {"customer": member.pk, "points": "-250", "reason": "goodwill fix"}
    )
    assert response.status_code == 302
    entry = PointsLedgerEntry.objects.get(kind="adjust")
    assert (entry.points, entry.reason, entry.actor.username) == (-250, "goodwill fix", "root")
    member.refresh_from_db()
    assert member.points_balance == 750
    assert balances_from_ledger(customer=member) == (750, 0)


@pytest.mark.parametrize(
    "data",
    [
        {"points": "5", "reason": "x"},  # neither customer nor group
        {"points": "0", "reason": "x", "customer": "MEMBER"},
        {"points": "5", "reason": "  ", "customer": "MEMBER"},
        {"points": "-5000", "reason": "too much", "customer": "MEMBER"},  # below zero
        {"points": str(2**63), "reason": "typo", "customer": "MEMBER"},  # past the bigint
    ],
)
def test_an_invalid_adjustment_is_refused_on_the_form(root, member, data):
    data = {k: (member.pk if v == "MEMBER" else v) for k, v in data.items()}
    response = root.post(ADJUST, data)
    assert response.status_code == 200  # the form again, with its errors
    assert not PointsLedgerEntry.objects.filter(kind="adjust").exists()


def test_staff_without_the_permission_cannot_adjust(member):
    user = get_user_model().objects.create_user("viewer", password="pw-123456", is_staff=True)
    client = Client()
    client.force_login(user)
    assert client.get(ADJUST).status_code == 403
    assert (
        client.post(ADJUST, {"customer": member.pk, "points": "5", "reason": "x"}).status_code
        == 403
    )


def test_groups_are_created_in_the_admin_and_their_pool_adjusted(
    root, tenant, member, other_tenant
):
    primary = CustomerFactory(company=tenant.company)
    response = root.post(
        "/admin/loyalty/customergroup/add/",
        {
            "company": tenant.company.pk,
            "name": "Family",
            "external_id": "fam-9",
            "primary_customer": primary.pk,
            "members": str(member.pk),
        },
    )
    assert response.status_code == 302, response.content
    group = CustomerGroup.objects.get()
    assert set(group.members.all()) == {primary, member}
    root.post(ADJUST, {"group": group.pk, "points": "300", "reason": "pool opening"})
    group.refresh_from_db()
    assert (group.points_balance, group.points_held) == (300, 0)
    assert group_balances_from_ledger(group=group) == (300, 0)
    # Editing the group never writes its counters; strangers cannot join.
    stranger = CustomerFactory(company=other_tenant.company)
    response = root.post(
        f"/admin/loyalty/customergroup/{group.pk}/change/",
        {
            "name": "Family",
            "external_id": "fam-9",
            "primary_customer": primary.pk,
            "members": str(stranger.pk),
        },
    )
    assert response.status_code == 200 and b"must be customers" in response.content
    CustomerGroup.objects.filter(pk=group.pk).update(points_balance=310)  # as if a spend raced
    response = root.post(
        f"/admin/loyalty/customergroup/{group.pk}/change/",
        {
            "name": "Family 2",
            "external_id": "fam-9",
            "primary_customer": primary.pk,
            "members": str(member.pk),
        },
    )
    assert response.status_code == 302
    group.refresh_from_db()
    assert group.name == "Family 2" and group.points_balance == 310


def test_fulfilment_statuses_and_an_issued_rewards_status_in_the_admin(
    root, tenant, client, member, make_reward
):
    response = root.post(
        "/admin/orders/fulfilmentstatus/add/",
        {"company": tenant.company.pk, "name": "SHIPPED", "position": "1"},
    )
    assert response.status_code == 302
    shipped = FulfilmentStatus.objects.get()
    reward = make_reward()
    answer = assert_loyalty(
        issue(client, issue_body(member, {"rewardId": reward.pk, "quantity": 1})), 200, 200
    )
    pk = answer["rewards"][0]["transactionId"]
    assert root.get("/admin/orders/rewardissue/").status_code == 200
    assert root.get(f"/admin/orders/rewardissue/{pk}/change/").status_code == 200
    response = root.post(
        f"/admin/orders/rewardissue/{pk}/change/", {"fulfilment_status": shipped.pk}
    )
    assert response.status_code == 302
    record = RewardIssue.objects.get(pk=pk)
    assert record.fulfilment_status == shipped
    assert record.response["fulfillmentDetails"]["status"] == "SHIPPED"
    assert record.fulfilment_updated_at is not None
