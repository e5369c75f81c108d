"""Connected orgs, validation codes, fulfilment statuses and the is-redeemable check."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.utils import timezone

from loyalty import services as points
from loyalty.models import PointsLedgerEntry, ValidationCode
from orders.models import FulfilmentStatus, RewardIssue, Voucher
from rewards.models import Reward
from tests.conftest import make_tenant
from tests.factories import CustomerFactory, StoreFactory

from .conftest import (
    BASE,
    IS_REDEEMABLE,
    STORE,
    VALIDATION_CODE,
    assert_loyalty,
    issue,
    issue_body,
    loyalty_client,
)

pytestmark = pytest.mark.django_db


def balance(customer) -> tuple[int, int]:
    customer.refresh_from_db()
    return customer.points_balance, customer.points_held


# --- Connected orgs --------------------------------------------------------------------------


@pytest.fixture
def family_of_orgs(tenant):
    """tenant is the parent; two children; each with a store and a reward."""
    child = make_tenant(parent=tenant.company)
    sibling = make_tenant(parent=tenant.company)
    for t in (child, sibling):
        StoreFactory(company=t.company, code=STORE)
    return child, sibling


def scope(*orgs, kind: str | None = "OTHER") -> dict[str, str]:
    headers = {"HTTP_DATA_SCOPE_ORG": ",".join(str(o.pk) for o in orgs)}
    if kind:
        headers["HTTP_DATA_SCOPE"] = kind
    return headers


def test_a_parent_issues_its_childs_reward_to_its_own_customer(
    client, member, make_reward, family_of_orgs
):
    child, _ = family_of_orgs
    own = make_reward(points_cost=10)
    childs = make_reward(company=child.company, points_cost=20, qty=5)
    body = issue_body(
        member,
        {"rewardId": own.pk, "quantity": 1},
        {"rewardId": childs.pk, "quantity": 1, "orgId": child.company.pk},
    )
    answer = assert_loyalty(issue(client, body, headers=scope(child.company)), 200, 200)
    assert [r["orgId"] for r in answer["rewards"]] == [member.company_id, child.company.pk]
    assert balance(member) == (970, 0)
    record = RewardIssue.objects.get(reward=childs)
    assert (record.company_id, record.org_id) == (member.company_id, child.company.pk)
    childs.refresh_from_db()
    assert childs.qty == 4
    # OTHER without a list means every child; DATA-SCOPE-ORG alone means OTHER.
    body = issue_body(member, {"rewardId": childs.pk, "quantity": 1, "orgId": child.company.pk})
    assert_loyalty(issue(client, body, headers={"HTTP_DATA_SCOPE": "OTHER"}), 200, 200)
    assert_loyalty(issue(client, body, headers=scope(child.company, kind=None)), 200, 200)


def test_without_scope_headers_a_childs_reward_is_out_of_reach(
    client, member, make_reward, family_of_orgs
):
    child, _ = family_of_orgs
    childs = make_reward(company=child.company)
    with_org = issue_body(member, {"rewardId": childs.pk, "quantity": 1, "orgId": child.company.pk})
    answer = assert_loyalty(issue(client, with_org), 422, 1027)
    assert answer["rewards"][0]["status"]["code"] == 1027
    # Without orgId the reward is looked up in the caller's own catalog: unknown.
    no_org = issue_body(member, {"rewardId": childs.pk, "quantity": 1})
    assert_loyalty(issue(client, no_org, headers=scope(child.company)), 422, 1020)
    assert_loyalty(issue(client, with_org, headers=scope(child.company, kind="SELF")), 422, 1027)
    assert balance(member) == (1000, 0)


def test_a_child_never_reaches_its_parents_or_a_siblings_rewards(
    tenant, make_reward, family_of_orgs
):
    child, sibling = family_of_orgs
    parents = make_reward(company=tenant.company)
    siblings = make_reward(company=sibling.company)
    customer = CustomerFactory(company=child.company)
    points.points_earn(customer=customer, points=1000, reason="seed")
    api = loyalty_client(child)
    for org, reward in ((tenant.company, parents), (sibling.company, siblings)):
        body = issue_body(customer, {"rewardId": reward.pk, "quantity": 1, "orgId": org.pk})
        # Naming the org in the headers refuses the whole call...
        assert_loyalty(issue(api, body, headers=scope(org)), 403, 1027)
        # ...and without headers that reward is out of scope.
        assert_loyalty(issue(api, body), 422, 1027)
        no_org = issue_body(customer, {"rewardId": reward.pk, "quantity": 1})
        assert_loyalty(issue(api, no_org), 422, 1020)
    assert balance(customer) == (1000, 0) and not Voucher.objects.exists()


def test_a_child_never_reaches_its_parents_customers_and_the_reverse(
    tenant, client, member, make_reward, family_of_orgs
):
    child, _ = family_of_orgs
    childs_customer = CustomerFactory(company=child.company)
    childs = make_reward(company=child.company)
    body = issue_body(
        childs_customer, {"rewardId": childs.pk, "quantity": 1, "orgId": child.company.pk}
    )
    assert_loyalty(issue(client, body, headers=scope(child.company)), 404, 1014)
    own = make_reward()
    body = issue_body(member, {"rewardId": own.pk, "quantity": 1})
    assert_loyalty(issue(loyalty_client(child), body), 404, 1014)


def test_an_unrelated_org_or_a_bad_scope_header_is_refused(
    client, member, make_reward, other_tenant
):
    reward = make_reward()
    body = issue_body(member, {"rewardId": reward.pk, "quantity": 1})
    assert_loyalty(issue(client, body, headers=scope(other_tenant.company)), 403, 1027)
    assert_loyalty(issue(client, body, headers={"HTTP_DATA_SCOPE": "EVERYONE"}), 400, 1001)
    assert_loyalty(issue(client, body, headers={"HTTP_DATA_SCOPE_ORG": "one,two"}), 400, 1001)


def test_a_suspended_child_is_out_of_scope(client, member, make_reward, family_of_orgs):
    child, _ = family_of_orgs
    childs = make_reward(company=child.company)
    child.company.status = "suspended"
    child.company.save()
    body = issue_body(member, {"rewardId": childs.pk, "quantity": 1, "orgId": child.company.pk})
    assert_loyalty(issue(client, body, headers=scope(child.company)), 403, 1027)


# --- Validation codes --------------------------------------------------------------------------


def send_code(client, customer, capture) -> str:
    """Ask for a code; the e-mail goes out after commit (captured and run here)."""
    with capture(execute=True):
        response = client.post(
            f"{VALIDATION_CODE}?username={STORE}", {"mobile": customer.mobile}, format="json"
        )
    body = assert_loyalty(response, 200, 200)
    assert "code" not in body and body["expiresInSeconds"] == 600
    return re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)


def test_without_skip_validation_the_call_needs_the_code_sent_by_email(
    client, member, make_reward, django_capture_on_commit_callbacks
):
    reward = make_reward()
    body = issue_body(member, {"rewardId": reward.pk, "quantity": 1, "requestId": "v-1"})
    answer = assert_loyalty(issue(client, body, skip=False), 422, 1030)
    assert "validationCode" in answer["errors"]
    code = send_code(client, member, django_capture_on_commit_callbacks)
    assert mail.outbox[-1].to == [member.email]
    record = ValidationCode.objects.get()
    assert code not in record.digest and record.expires_at > timezone.now()

    wrong = "000000" if code != "000000" else "111111"
    assert_loyalty(issue(client, {**body, "validationCode": wrong}, skip=False), 422, 1030)
    record.refresh_from_db()
    assert record.attempts == 1  # counted although the call failed
    assert_loyalty(issue(client, {**body, "validationCode": code}, skip=False), 200, 200)
    assert balance(member) == (900, 0)
    # A replay of the same call needs no fresh code; a new reward with the used code is refused.
    assert_loyalty(issue(client, {**body, "validationCode": code}, skip=False), 200, 200)
    again = issue_body(member, {"rewardId": reward.pk, "quantity": 1}, validationCode=code)
    answer = assert_loyalty(issue(client, again, skip=False), 422, 1030)
    assert answer["status"]["message"] == "The validation code was already used"
    assert balance(member) == (900, 0)
    # skip_validation must be exactly true to skip.
    assert_loyalty(
        client.post(
            f"{BASE}/v1.1/user/rewards/issue/?username={STORE}&skip_validation=false",
            again,
            format="json",
        ),
        422,
        1030,
    )


def test_an_expired_code_is_refused(
    client, member, make_reward, django_capture_on_commit_callbacks
):
    reward = make_reward()
    code = send_code(client, member, django_capture_on_commit_callbacks)
    ValidationCode.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    body = issue_body(member, {"rewardId": reward.pk, "quantity": 1}, validationCode=code)
    answer = assert_loyalty(issue(client, body, skip=False), 422, 1030)
    assert answer["status"]["message"] == "The validation code has expired"
    assert balance(member) == (1000, 0)


def test_a_code_dies_after_five_wrong_attempts_and_a_new_one_replaces_the_old(
    client, member, make_reward, django_capture_on_commit_callbacks
):
    reward = make_reward()
    code = send_code(client, member, django_capture_on_commit_callbacks)
    wrong = "000000" if code != "000000" else "111111"
    body = issue_body(member, {"rewardId": reward.pk, "quantity": 1})
    for _ in range(5):
        assert_loyalty(issue(client, {**body, "validationCode": wrong}, skip=False), 422, 1030)
    answer = assert_loyalty(issue(client, {**body, "validationCode": code}, skip=False), 422, 1030)
    assert "Too many wrong attempts" in answer["status"]["message"]
    fresh = send_code(client, member, django_capture_on_commit_callbacks)
    if fresh != code:
        assert_loyalty(issue(client, {**body, "validationCode": code}, skip=False), 422, 1030)
    assert_loyalty(issue(client, {**body, "validationCode": fresh}, skip=False), 200, 200)


def test_a_refused_call_leaves_the_code_usable(
    client, member, make_reward, django_capture_on_commit_callbacks
):
    dear, cheap = make_reward(points_cost=5000), make_reward(points_cost=10)
    code = send_code(client, member, django_capture_on_commit_callbacks)
    refused = issue_body(member, {"rewardId": dear.pk, "quantity": 1}, validationCode=code)
    assert_loyalty(issue(client, refused, skip=False), 422, 1015)
    fine = issue_body(member, {"rewardId": cheap.pk, "quantity": 1}, validationCode=code)
    assert_loyalty(issue(client, fine, skip=False), 200, 200)


def test_codes_per_hour_are_limited_and_need_an_email(
    client, tenant, member, django_capture_on_commit_callbacks
):
    for _ in range(5):
        send_code(client, member, django_capture_on_commit_callbacks)
    response = client.post(
        f"{VALIDATION_CODE}?username={STORE}", {"mobile": member.mobile}, format="json"
    )
    assert_loyalty(response, 429, 1006)
    silent = CustomerFactory(company=tenant.company, email="")
    response = client.post(
        f"{VALIDATION_CODE}?username={STORE}", {"mobile": silent.mobile}, format="json"
    )
    assert_loyalty(response, 422, 1001)
    response = client.post(
        f"{VALIDATION_CODE}?username={STORE}", {"mobile": "919999999999"}, format="json"
    )
    assert_loyalty(response, 404, 1014)


# --- Fulfilment details --------------------------------------------------------------------------


@pytest.fixture
def statuses(tenant):
    return {
        name: FulfilmentStatus.objects.create(company=tenant.company, name=name, position=i)
        for i, name in enumerate(["BOOKED", "SHIPPED", "DELIVERED"])
    }


def test_fulfilment_status_set_at_issue_then_through_the_api_and_shown_back(
    client, member, make_reward, statuses
):
    reward = make_reward()
    details = {"status": "BOOKED", "address": "1 Main St"}
    body = issue_body(member, {"rewardId": reward.pk, "quantity": 1, "fulfillmentDetails": details})
    answer = assert_loyalty(issue(client, body), 200, 200)
    item = answer["rewards"][0]
    assert item["fulfillmentDetails"]["status"] == "BOOKED"
    assert item["fulfillmentDetails"]["address"] == "1 Main St"
    transaction_id = item["transactionId"]
    url = f"{BASE}/v1/user/rewards/{transaction_id}/fulfillment?username={STORE}"

    updated = assert_loyalty(
        client.put(url, {"status": "shipped", "tracking": "TRK1"}, format="json"), 200, 200
    )
    shown = updated["reward"]["fulfillmentDetails"]
    assert shown["status"] == "SHIPPED" and shown["tracking"] == "TRK1"
    assert shown["address"] == "1 Main St" and shown["updatedAt"]
    record = RewardIssue.objects.get(pk=transaction_id)
    assert record.fulfilment_status == statuses["SHIPPED"]
    read = assert_loyalty(
        client.get(f"{BASE}/v1/user/rewards/{transaction_id}?username={STORE}"), 200, 200
    )
    assert read["reward"]["fulfillmentDetails"]["status"] == "SHIPPED"
    assert_loyalty(client.post(url, {"status": "DELIVERED"}, format="json"), 200, 200)
    # A replay of the issue call shows the current state too.
    assert_loyalty(issue(client, body), 200, 200)


def test_fulfilment_refuses_unknown_statuses_and_other_companies_transactions(
    client, member, make_reward, statuses, other_tenant
):
    reward = make_reward()
    bad = issue_body(
        member, {"rewardId": reward.pk, "quantity": 1, "fulfillmentDetails": {"status": "LOST"}}
    )
    assert_loyalty(issue(client, bad), 422, 1001)
    assert not RewardIssue.objects.exists()
    answer = assert_loyalty(
        issue(client, issue_body(member, {"rewardId": reward.pk, "quantity": 1})), 200, 200
    )
    transaction_id = answer["rewards"][0]["transactionId"]
    url = f"{BASE}/v1/user/rewards/{transaction_id}/fulfillment?username={STORE}"
    assert_loyalty(client.put(url, {"status": "LOST"}, format="json"), 422, 1001)
    assert_loyalty(client.put(url, {}, format="json"), 422, 1001)
    # Another company's statuses do not count, and its transactions are not found.
    FulfilmentStatus.objects.create(company=other_tenant.company, name="LOST")
    assert_loyalty(client.put(url, {"status": "LOST"}, format="json"), 422, 1001)
    StoreFactory(company=other_tenant.company, code=STORE)
    FulfilmentStatus.objects.create(company=other_tenant.company, name="SHIPPED")
    foreign = loyalty_client(other_tenant)
    assert_loyalty(foreign.put(url, {"status": "SHIPPED"}, format="json"), 404, 1008)
    assert_loyalty(
        foreign.get(f"{BASE}/v1/user/rewards/{transaction_id}?username={STORE}"), 404, 1008
    )


# --- Is-redeemable ---------------------------------------------------------------------------------


def is_redeemable(client, body, headers=None):
    return client.post(f"{IS_REDEEMABLE}?username={STORE}", body, format="json", **(headers or {}))


def test_is_redeemable_prices_the_set_and_changes_nothing(client, member, make_reward):
    a = make_reward(points_cost=300, qty=4)
    conv = make_reward(
        payment_mode=Reward.PaymentMode.CONV_RATIO, conversion_ratio="0.5", points_cost=None
    )
    body = {
        "mobile": member.mobile,
        "rewards": [{"rewardId": a.pk, "quantity": 2}, {"rewardId": conv.pk, "quantity": 1.56}],
    }
    answer = assert_loyalty(is_redeemable(client, body), 200, 200)
    assert answer["isRedeemable"] is True
    assert (answer["pointsRequired"], answer["pointsAvailable"]) == (602, 1000)
    assert [r["points"] for r in answer["rewards"]] == [600, 2]
    assert [r["quantity"] for r in answer["rewards"]] == [2, 1]
    body["rewards"][0]["quantity"] = 4  # 1,202 points
    answer = assert_loyalty(is_redeemable(client, body), 200, 1015)
    assert answer["isRedeemable"] is False and answer["status"]["success"] is False
    body["rewards"][0]["quantity"] = 5  # more than the stock
    answer = assert_loyalty(is_redeemable(client, body), 200, 1033)
    assert answer["rewards"][0]["status"]["code"] == 1021
    # Nothing moved.
    a.refresh_from_db()
    assert a.qty == 4 and balance(member) == (1000, 0)
    assert PointsLedgerEntry.objects.filter(customer=member).count() == 1
    assert not RewardIssue.objects.exists() and not Voucher.objects.exists()


def test_is_redeemable_for_a_group_and_unknown_customers(client, tenant, member, make_reward):
    from loyalty.models import CustomerGroup

    group = CustomerGroup.objects.create(company=tenant.company, name="G", primary_customer=member)
    points.points_adjust(customer=member, points=50, reason="pool", group=group)
    reward = make_reward(points_cost=60)
    body = {"mobile": member.mobile, "rewards": [{"rewardId": reward.pk, "quantity": 1}]}
    answer = assert_loyalty(is_redeemable(client, {**body, "user_group2_id": group.pk}), 200, 1015)
    assert answer["groupLoyaltyRedemption"] is True and answer["pointsAvailable"] == 50
    assert_loyalty(is_redeemable(client, {**body, "mobile": "919999999999"}), 404, 1014)
    assert_loyalty(is_redeemable(client, {"mobile": member.mobile, "rewards": []}), 422, 1001)


def test_odd_transaction_ids_and_bodies_are_answered_in_the_envelope(client):
    huge = f"{BASE}/v1/user/rewards/99999999999999999999999"
    assert_loyalty(client.get(f"{huge}?username={STORE}"), 404, 1008)
    assert_loyalty(
        client.put(f"{huge}/fulfillment?username={STORE}", {"status": "X"}, format="json"),
        404,
        1008,
    )
    assert_loyalty(
        client.put(f"{BASE}/v1/user/rewards/1/fulfillment?username={STORE}", [1], format="json"),
        400,
        1001,
    )
