"""POST v1.1/user/rewards/issue/: the seed's call, paid with points."""

from __future__ import annotations

import pytest

from customers.models import Customer
from loyalty import services as points
from loyalty.models import PointsLedgerEntry
from loyalty.selectors import balances_from_ledger
from orders.models import RewardIssue, Voucher
from rewards.models import StockMovement

from .conftest import ISSUE, STORE, assert_loyalty, issue, issue_body

pytestmark = pytest.mark.django_db


def balance(customer: Customer) -> tuple[int, int]:
    customer.refresh_from_db()
    return customer.points_balance, customer.points_held


def test_issue_answers_in_the_seeds_shape_and_spends_the_points(client, member, make_reward):
    reward = make_reward(points_cost=150, validity_days=30)
    body = issue_body(
        member,
        {"rewardId": reward.pk, "quantity": 2, "requestId": "req-1", "customFields": {"CF": "x"}},
        transactionNumber="123456789",
        notes="desk",
        eventLogId="ev-9",
    )
    answer = assert_loyalty(issue(client, body), 200, 200)
    assert answer["status"] == {
        "success": True,
        "code": 200,
        "message": "Reward issued successfully",
    }
    [item] = answer["rewards"]
    assert item["status"]["success"] is True and item["status"]["code"] == 200
    stored = RewardIssue.objects.get()
    assert item["transactionId"] == stored.pk
    assert item["orgId"] == member.company_id
    assert (item["rewardId"], item["requestedQuantity"], item["quantity"]) == (reward.pk, 2, 2)
    assert item["requestId"] == "req-1" and item["eventLogId"] == "ev-9"
    assert item["promotions"] == [] and item["intouch"] is None
    assert item["customFields"] == {"CF": "x"}
    assert item["paymentConfig"] == {
        "paymentMode": "POINTS",
        "id": reward.pk,
        "conversionRatio": None,
    }
    assert item["redemptionDetails"] == {"redemptionType": "QUANTITY", "totalRedemptionValue": 2}
    assert item["groupLoyaltyRedemption"] is False
    vouchers = Voucher.objects.filter(issue=stored).order_by("id")
    assert [v["voucher"] for v in item["vendor"]] == [v.code for v in vouchers]
    assert all(v["pointsRedeemed"] == "150" for v in item["vendor"])
    assert item["vendor"][0]["valid_till"] == vouchers[0].valid_till.isoformat()
    assert item["vendor"][0]["offer_name"] == reward.name
    spend = PointsLedgerEntry.objects.get(kind="spend")
    assert item["pointsReferenceId"] == str(spend.pk) and item["pointsReferenceIds"] == [
        str(spend.pk)
    ]
    assert spend.points == -300 and spend.reference == f"issue:{stored.pk}"
    assert balance(member) == (700, 0)
    assert stored.transaction_number == "123456789" and stored.notes == "desk"
    assert stored.store_code == STORE and stored.status == RewardIssue.Status.ISSUED
    assert stored.response == item


def test_the_path_works_without_the_trailing_slash(client, member, make_reward):
    reward = make_reward()
    response = client.post(
        ISSUE.rstrip("/") + f"?username={STORE}&skip_validation=true",
        issue_body(member, {"rewardId": reward.pk, "quantity": 1}),
        format="json",
    )
    assert_loyalty(response, 200, 200)


def test_a_bulk_issue_whose_total_exceeds_the_balance_issues_nothing(client, member, make_reward):
    limited, dear = make_reward(points_cost=401, qty=5), make_reward(points_cost=300)
    body = issue_body(
        member,
        {"rewardId": limited.pk, "quantity": 1, "requestId": "a"},
        {"rewardId": dear.pk, "quantity": 2, "requestId": "b"},
    )  # 401 + 600 = 1001 > 1000
    answer = assert_loyalty(issue(client, body), 422, 1015)
    assert answer["status"]["success"] is False
    assert "1001 needed, 1000 available" in answer["status"]["message"]
    assert not RewardIssue.objects.exists() and not Voucher.objects.exists()
    assert balance(member) == (1000, 0)
    assert PointsLedgerEntry.objects.filter(customer=member).count() == 1
    limited.refresh_from_db()
    assert limited.qty == 5 and not StockMovement.objects.exists()
    # Nothing was used up: the same requestIds go through once the points are there.
    points.points_earn(customer=member, points=1, reason="top-up")
    assert_loyalty(issue(client, body), 200, 200)
    assert balance(member) == (0, 0)
    assert balances_from_ledger(customer=member) == (0, 0)
