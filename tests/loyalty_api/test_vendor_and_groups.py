"""Vendor rewards (points held, then captured or released by fulfilment) and group loyalty
(points from the group's pool)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from customers.models import Customer
from loyalty import services as points
from loyalty.models import CustomerGroup, PointsLedgerEntry
from loyalty.selectors import balances_from_ledger, group_balances_from_ledger
from orders import services as order_services
from orders.loyalty_services import reward_issue_voucher_settled
from orders.models import RewardIssue, Voucher
from rewards.models import Reward, Vendor
from tests.factories import CustomerFactory

from .conftest import assert_loyalty, issue, issue_body


def balance(holder) -> tuple[int, int]:
    holder.refresh_from_db()
    return holder.points_balance, holder.points_held


def settle(voucher_ids, *, ok: bool) -> None:
    """What background fulfilment does once the vendor answers (or finally fails)."""
    for voucher_id in voucher_ids:
        with transaction.atomic():
            voucher = Voucher.objects.select_for_update().get(pk=voucher_id)
            if ok:
                voucher.status = Voucher.Status.ISSUED
                voucher.code = f"VND-{voucher_id}"
                voucher.valid_till = dt.date(2027, 11, 1)
                voucher.issued_at = timezone.now()
            else:
                voucher.status = Voucher.Status.FAILED
                voucher.failure_reason = "vendor said no"
            voucher.save()
            reward_issue_voucher_settled(voucher=voucher)


@pytest.fixture
def vendor_reward(make_reward):
    vendor = Vendor.objects.create(name="sim", base_url="http://127.0.0.1:9")
    return make_reward(
        fulfilment=Reward.Fulfilment.VENDOR,
        vendor=vendor,
        vendor_product_code="GIFT-10",
        points_cost=100,
    )


@pytest.fixture
def no_fulfilment(monkeypatch):
    sent: list[list[int]] = []
    monkeypatch.setattr(order_services, "enqueue_voucher_fulfilment", sent.append)
    return sent


@pytest.mark.django_db
def test_a_vendor_reward_holds_the_points_and_answers_202_until_the_vendor_answers(
    client, member, vendor_reward, no_fulfilment, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        answer = assert_loyalty(
            issue(client, issue_body(member, {"rewardId": vendor_reward.pk, "quantity": 2})),
            200,
            202,
        )
    [item] = answer["rewards"]
    assert item["status"] == {
        "success": True,
        "code": 202,
        "message": "Reward accepted; waiting on the vendor",
    }
    assert [v["voucher"] for v in item["vendor"]] == [None, None]
    assert balance(member) == (1000, 200)
    holds = PointsLedgerEntry.objects.filter(kind="hold").order_by("id")
    vouchers = list(Voucher.objects.order_by("id"))
    assert [h.reference for h in holds] == [f"voucher:{v.pk}" for v in vouchers]
    assert item["pointsReferenceIds"] == [str(h.pk) for h in holds]
    assert no_fulfilment == [[v.pk for v in vouchers]]  # handed over after commit

    # One voucher issued, one failed: 100 captured, 100 released, quantity 1.
    settle([vouchers[0].pk], ok=True)
    settle([vouchers[1].pk], ok=False)
    assert balance(member) == (900, 0)
    assert balances_from_ledger(customer=member) == (900, 0)
    stored = RewardIssue.objects.get()
    assert (stored.status, stored.result_code, stored.quantity, stored.points) == (
        RewardIssue.Status.ISSUED,
        200,
        1,
        100,
    )
    assert [v["voucher"] for v in stored.response["vendor"]] == [f"VND-{vouchers[0].pk}", None]
    assert stored.response["vendor"][0]["valid_till"] == "2027-11-01"
    assert stored.response["pointsReferenceIds"] == item["pointsReferenceIds"]


@pytest.mark.django_db
def test_a_vendor_failure_releases_the_hold_and_answers_1025(
    client, member, vendor_reward, no_fulfilment, django_capture_on_commit_callbacks
):
    body = issue_body(member, {"rewardId": vendor_reward.pk, "quantity": 1, "requestId": "v1"})
    with django_capture_on_commit_callbacks(execute=True):
        assert_loyalty(issue(client, body), 200, 202)
    settle(no_fulfilment[0], ok=False)
    assert balance(member) == (1000, 0)
    replay = assert_loyalty(issue(client, body), 422, 1025)
    assert replay["rewards"][0]["status"]["success"] is False
    assert replay["rewards"][0]["quantity"] == 0
    assert balance(member) == (1000, 0)  # the replay holds nothing again


@pytest.mark.django_db(transaction=True)
def test_with_inline_fulfilment_the_answer_carries_the_vendors_voucher(
    tenant, client, member, vendor_reward, monkeypatch
):
    monkeypatch.setattr(
        order_services, "enqueue_voucher_fulfilment", lambda ids: settle(ids, ok=True)
    )
    answer = assert_loyalty(
        issue(client, issue_body(member, {"rewardId": vendor_reward.pk, "quantity": 1})), 200, 200
    )
    [item] = answer["rewards"]
    voucher = Voucher.objects.get()
    assert item["status"]["code"] == 200
    assert item["vendor"][0]["voucher"] == f"VND-{voucher.pk}"
    assert item["vendor"][0]["pointsRedeemed"] == "100"
    assert balance(member) == (900, 0)


# --- Group loyalty -------------------------------------------------------------------------------


@pytest.fixture
def family(tenant, member):
    primary = CustomerFactory(company=tenant.company)
    group = CustomerGroup.objects.create(
        company=tenant.company, name="Family", primary_customer=primary, external_id="fam-1"
    )
    group.members.add(member)
    points.points_adjust(customer=primary, points=500, reason="pool opening", group=group)
    return group


@pytest.mark.django_db
@pytest.mark.parametrize(
    "field", ["user_group2_id", "user_group2_external_id", "user_group2_primary_user_id"]
)
def test_a_group_redemption_pays_from_the_pool(client, member, family, make_reward, field):
    value = {
        "user_group2_id": str(family.pk),
        "user_group2_external_id": "fam-1",
        "user_group2_primary_user_id": family.primary_customer_id,
    }[field]
    reward = make_reward(points_cost=200)
    body = issue_body(member, {"rewardId": reward.pk, "quantity": 2}, **{field: value})
    answer = assert_loyalty(issue(client, body), 200, 200)
    item = answer["rewards"][0]
    assert item["groupLoyaltyRedemption"] is True and item["groupId"] == family.pk
    assert balance(family) == (100, 0)
    assert balance(member) == (1000, 0)  # the member's own points are untouched
    assert group_balances_from_ledger(group=family) == (100, 0)
    spend = PointsLedgerEntry.objects.get(kind="spend")
    assert (spend.group_id, spend.customer_id, spend.balance_after) == (family.pk, member.pk, 100)
    assert RewardIssue.objects.get().group_id == family.pk


@pytest.mark.django_db
def test_a_short_pool_refuses_the_whole_call_even_if_the_member_is_rich(
    client, member, family, make_reward
):
    reward = make_reward(points_cost=501)
    body = issue_body(member, {"rewardId": reward.pk, "quantity": 1}, user_group2_id=family.pk)
    assert_loyalty(issue(client, body), 422, 1015)
    assert balance(family) == (500, 0) and not RewardIssue.objects.exists()


@pytest.mark.django_db
def test_a_vendor_group_redemption_holds_and_settles_in_the_pool(
    client, member, family, vendor_reward, no_fulfilment, django_capture_on_commit_callbacks
):
    body = issue_body(
        member, {"rewardId": vendor_reward.pk, "quantity": 2}, user_group2_id=family.pk
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert_loyalty(issue(client, body), 200, 202)
    assert balance(family) == (500, 200)
    ids = no_fulfilment[0]
    settle(ids[:1], ok=True)
    settle(ids[1:], ok=False)
    assert balance(family) == (400, 0) and balance(member) == (1000, 0)
    assert group_balances_from_ledger(group=family) == (400, 0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"user_group2_id": 999999},
        {"user_group2_id": "not-a-number"},
        {"user_group2_external_id": "nope"},
        {"user_group2_primary_user_id": 999999},
        {"user_group2_id": "FAMILY", "user_group2_external_id": "other"},
    ],
)
def test_an_unknown_group_is_1031(client, member, family, make_reward, fields):
    if fields.get("user_group2_id") == "FAMILY":
        fields = {**fields, "user_group2_id": family.pk}
    reward = make_reward()
    body = issue_body(member, {"rewardId": reward.pk, "quantity": 1}, **fields)
    assert_loyalty(issue(client, body), 404, 1031)
    assert balance(family) == (500, 0)


@pytest.mark.django_db
def test_a_customer_outside_the_group_cannot_spend_its_pool(
    client, tenant, family, make_reward, other_tenant
):
    outsider = CustomerFactory(company=tenant.company)
    reward = make_reward()
    body = issue_body(outsider, {"rewardId": reward.pk, "quantity": 1}, user_group2_id=family.pk)
    assert_loyalty(issue(client, body), 404, 1031)
    # Another company's group is unknown too, even named by its id.
    foreign_primary = CustomerFactory(company=other_tenant.company)
    foreign = CustomerGroup.objects.create(
        company=other_tenant.company, name="F", primary_customer=foreign_primary
    )
    body = issue_body(outsider, {"rewardId": reward.pk, "quantity": 1}, user_group2_id=foreign.pk)
    assert_loyalty(issue(client, body), 404, 1031)
    assert balance(family) == (500, 0)


@pytest.mark.django_db
def test_the_primary_member_may_spend_the_pool(client, family, make_reward):
    primary = Customer.objects.get(pk=family.primary_customer_id)
    reward = make_reward(points_cost=50)
    body = issue_body(primary, {"rewardId": reward.pk, "quantity": 1}, user_group2_id=family.pk)
    assert_loyalty(issue(client, body), 200, 200)
    assert balance(family) == (450, 0)


@pytest.mark.django_db(transaction=True)
def test_end_to_end_with_the_real_inline_fulfilment_and_a_vendor_on_loopback(
    client, member, make_reward
):
    """The embedded default runs Celery inline: the real fulfilment task calls the (simulated)
    vendor after commit, and the answer, read back after commit, carries its voucher."""
    from rewards.services import vendor_save
    from rewards.vendor_simulator import VendorSimulator

    with VendorSimulator() as sim:
        vendor = vendor_save(
            vendor=Vendor(name="loopback", base_url=sim.url, max_retries=0), api_key="vk_test"
        )
        reward = make_reward(
            fulfilment=Reward.Fulfilment.VENDOR,
            vendor=vendor,
            vendor_product_code="GIFT-10",
            points_cost=100,
            qty=3,
        )
        answer = assert_loyalty(
            issue(client, issue_body(member, {"rewardId": reward.pk, "quantity": 1})), 200, 200
        )
        [entry] = answer["rewards"][0]["vendor"]
        assert entry["voucher"] and entry["valid_till"] and entry["status"] == "issued"
        assert balance(member) == (900, 0)

        sim.script("400")  # a permanent vendor refusal: points released, stock back
        answer = assert_loyalty(
            issue(client, issue_body(member, {"rewardId": reward.pk, "quantity": 1})), 422, 1025
        )
        assert balance(member) == (900, 0)
        reward.refresh_from_db()
        assert reward.qty == 2
        assert balances_from_ledger(customer=member) == (900, 0)
