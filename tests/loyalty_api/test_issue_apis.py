"""POST v1.1/user/rewards/issue/: the seed's call, paid with points."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import Customer
from loyalty import services as points
from loyalty.models import PointsLedgerEntry
from loyalty.selectors import balances_from_ledger
from orders.models import RewardIssue, Voucher
from rewards.models import Reward, StockMovement, Vendor
from tests.factories import CustomerFactory, PoolCodeFactory, RewardFactory

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


def _now():
    return timezone.now()


FAILURES = {
    "unknown": (lambda make, other: {"rewardId": 999_999}, 1020),
    "another_companys": (lambda make, other: {"rewardId": RewardFactory(company=other).pk}, 1020),
    "inactive": (lambda make, other: {"rewardId": make(status=Reward.Status.INACTIVE).pk}, 1024),
    "sold_out": (
        lambda make, other: {"rewardId": make(qty=0, status=Reward.Status.INACTIVE).pk},
        1021,
    ),
    "short_stock": (lambda make, other: {"rewardId": make(qty=1).pk, "quantity": 2}, 1021),
    "not_started": (
        lambda make, other: {"rewardId": make(starts_at=_now() + dt.timedelta(days=1)).pk},
        1022,
    ),
    "ended": (
        lambda make, other: {"rewardId": make(ends_at=_now() - dt.timedelta(seconds=1)).pk},
        1022,
    ),
    "vouchers_expired": (
        lambda make, other: {"rewardId": make(valid_until=dt.date(2020, 1, 1)).pk},
        1022,
    ),
    "not_in_segment": (lambda make, other: {"rewardId": make(segments=["platinum"]).pk}, 1023),
    "vendor_off": (
        lambda make, other: {
            "rewardId": make(
                fulfilment=Reward.Fulfilment.VENDOR,
                vendor_product_code="P-1",
                vendor=Vendor.objects.create(
                    name="off", base_url="http://127.0.0.1:9", is_active=False
                ),
            ).pk
        },
        1025,
    ),
    "no_vendor": (
        lambda make, other: {"rewardId": make(fulfilment=Reward.Fulfilment.VENDOR).pk},
        1025,
    ),
    "quantity_below_one": (lambda make, other: {"rewardId": make().pk, "quantity": 0.99}, 1026),
    "quantity_negative": (lambda make, other: {"rewardId": make().pk, "quantity": -3}, 1026),
    "quantity_too_large": (lambda make, other: {"rewardId": make().pk, "quantity": 101}, 1026),
    "no_points_price": (lambda make, other: {"rewardId": make(points_cost=None).pk}, 1032),
    "wrong_payment_config": (
        lambda make, other: {"rewardId": make().pk, "paymentConfig": {"id": 1}},
        1001,
    ),
}


@pytest.mark.parametrize("case", FAILURES)
def test_a_failing_reward_fails_alone_and_the_others_are_issued(
    case, client, member, make_reward, other_tenant
):
    build, code = FAILURES[case]
    good = make_reward(points_cost=100)
    bad = {"quantity": 1, **build(make_reward, other_tenant.company), "requestId": "bad"}
    body = issue_body(member, {"rewardId": good.pk, "quantity": 1, "requestId": "good"}, bad)
    answer = assert_loyalty(issue(client, body), 200, 207)
    assert answer["status"]["success"] is True
    ok, failed = answer["rewards"]
    assert ok["status"]["code"] == 200 and ok["quantity"] == 1
    assert failed["status"]["success"] is False and failed["status"]["code"] == code, failed
    assert failed["quantity"] == 0 and failed["vendor"] == [] and failed["pointsReferenceIds"] == []
    assert failed["rewardId"] == bad["rewardId"]
    # Points only for what was issued; the failure is recorded and replays the same answer.
    assert balance(member) == (900, 0)
    assert Voucher.objects.count() == 1
    record = RewardIssue.objects.get(request_id="bad")
    assert record.status == RewardIssue.Status.FAILED and record.result_code == code
    again = assert_loyalty(issue(client, body), 200, 207)
    assert again["rewards"] == answer["rewards"]
    assert balance(member) == (900, 0) and Voucher.objects.count() == 1


def test_when_every_reward_fails_the_call_is_422_with_their_code(client, member, make_reward):
    a, b = make_reward(status=Reward.Status.INACTIVE), make_reward(status=Reward.Status.INACTIVE)
    body = issue_body(member, {"rewardId": a.pk, "quantity": 1}, {"rewardId": b.pk, "quantity": 1})
    answer = assert_loyalty(issue(client, body), 422, 1024)
    assert answer["status"]["success"] is False and len(answer["rewards"]) == 2
    body = issue_body(
        member, {"rewardId": a.pk, "quantity": 1}, {"rewardId": 424242, "quantity": 1}
    )
    assert_loyalty(issue(client, body), 422, 1029)
    assert balance(member) == (1000, 0)


def test_stock_is_counted_across_the_rewards_of_one_call(client, member, make_reward):
    reward = make_reward(qty=3, points_cost=10)
    body = issue_body(
        member, {"rewardId": reward.pk, "quantity": 2}, {"rewardId": reward.pk, "quantity": 2}
    )
    answer = assert_loyalty(issue(client, body), 200, 207)
    assert [r["status"]["code"] for r in answer["rewards"]] == [200, 1021]
    reward.refresh_from_db()
    assert reward.qty == 1 and balance(member) == (980, 0)
    movement = StockMovement.objects.get(reward=reward)
    assert movement.delta == -2 and movement.reason == StockMovement.Reason.ISSUE


def test_a_limited_reward_that_runs_out_goes_inactive(client, member, make_reward):
    reward = make_reward(qty=1, points_cost=10)
    assert_loyalty(
        issue(client, issue_body(member, {"rewardId": reward.pk, "quantity": 1})), 200, 200
    )
    reward.refresh_from_db()
    assert (reward.qty, reward.status) == (0, Reward.Status.INACTIVE)
    answer = assert_loyalty(
        issue(client, issue_body(member, {"rewardId": reward.pk, "quantity": 1})), 422, 1021
    )
    assert answer["rewards"][0]["status"]["message"] == "The reward is out of stock"


@pytest.mark.parametrize(
    ("ratio", "quantity", "units", "points"),
    [
        ("0.5", 1, 1, 2),  # the seed's example: pointsRedeemed "2"
        ("0.5", 1.56, 1, 2),  # decimals are dropped before pricing
        ("2", 3, 3, 2),  # 1.5 points, rounded up
        ("3", "10.9", 10, 4),  # 3.33.. → 4
        ("0.3333", 1, 1, 4),  # 3.0003 → 4: never a fraction of a point for free
        ("4", 8, 8, 2),  # exact
    ],
)
def test_conversion_ratio_truncates_the_quantity_and_rounds_points_up(
    client, member, make_reward, ratio, quantity, units, points
):
    reward = make_reward(
        payment_mode=Reward.PaymentMode.CONV_RATIO,
        conversion_ratio=Decimal(ratio),
        points_cost=None,
        denomination_value=Decimal("1"),
    )
    answer = assert_loyalty(
        issue(client, issue_body(member, {"rewardId": reward.pk, "quantity": quantity})), 200, 200
    )
    [item] = answer["rewards"]
    assert item["quantity"] == units
    assert item["requestedQuantity"] == (float(quantity) if units != float(quantity) else units)
    assert [v["pointsRedeemed"] for v in item["vendor"]] == [str(points)]
    assert item["paymentConfig"]["paymentMode"] == "CONV_RATIO"
    assert item["paymentConfig"]["conversionRatio"] == float(Decimal(ratio))
    assert item["redemptionDetails"] == {"redemptionType": "VALUE", "totalRedemptionValue": units}
    voucher = Voucher.objects.get()
    assert voucher.denomination_value == units and voucher.points_spent == points
    assert balance(member) == (1000 - points, 0)


def test_a_conversion_ratio_quantity_worth_more_than_a_voucher_holds_is_refused(
    client, member, make_reward
):
    # 10^9 units (the quantity limit) of a 100-unit denomination: 10^11, where a voucher's value
    # holds 10 digits before the point.
    reward = make_reward(
        payment_mode=Reward.PaymentMode.CONV_RATIO,
        conversion_ratio=Decimal("10000000"),
        points_cost=None,
        denomination_value=Decimal("100"),
    )
    body = issue_body(member, {"rewardId": reward.pk, "quantity": 1_000_000_000})

    answer = assert_loyalty(issue(client, body), 422, 1026)

    assert answer["rewards"][0]["status"]["code"] == 1026
    assert not Voucher.objects.exists()
    assert balance(member) == (1000, 0)


def test_pool_rewards_hand_out_pool_codes(client, member, make_reward):
    reward = make_reward(fulfilment=Reward.Fulfilment.POOL, qty=2, points_cost=5)
    PoolCodeFactory(reward=reward, code="POOL-A")
    PoolCodeFactory(reward=reward, code="POOL-B")
    answer = assert_loyalty(
        issue(client, issue_body(member, {"rewardId": reward.pk, "quantity": 2})), 200, 200
    )
    assert sorted(v["voucher"] for v in answer["rewards"][0]["vendor"]) == ["POOL-A", "POOL-B"]


def test_a_requestid_replay_returns_the_first_answer_and_deducts_nothing(
    client, member, make_reward
):
    reward = make_reward(points_cost=100)
    body = issue_body(member, {"rewardId": reward.pk, "quantity": 1, "requestId": "r-1"})
    first = assert_loyalty(issue(client, body), 200, 200)
    second = assert_loyalty(issue(client, body), 200, 200)
    assert second == first
    assert balance(member) == (900, 0) and Voucher.objects.count() == 1
    # A replay next to a new reward: only the new one is paid for.
    other = make_reward(points_cost=50)
    body["rewards"].append({"rewardId": other.pk, "quantity": 1, "requestId": "r-2"})
    third = assert_loyalty(issue(client, body), 200, 200)
    assert third["rewards"][0] == first["rewards"][0]
    assert balance(member) == (850, 0) and Voucher.objects.count() == 2


def test_a_requestid_of_another_customer_or_reward_is_a_duplicate(
    client, tenant, member, make_reward
):
    reward, other_reward = make_reward(), make_reward()
    assert_loyalty(
        issue(client, issue_body(member, {"rewardId": reward.pk, "quantity": 1, "requestId": "k"})),
        200,
        200,
    )
    someone = CustomerFactory(company=tenant.company)
    points.points_earn(customer=someone, points=500, reason="seed")
    answer = assert_loyalty(
        issue(
            client, issue_body(someone, {"rewardId": reward.pk, "quantity": 1, "requestId": "k"})
        ),
        422,
        1028,
    )
    assert answer["rewards"][0]["transactionId"] is None  # never the other customer's answer
    assert_loyalty(
        issue(
            client,
            issue_body(member, {"rewardId": other_reward.pk, "quantity": 1, "requestId": "k"}),
        ),
        422,
        1028,
    )
    assert_loyalty(
        issue(client, issue_body(member, {"rewardId": reward.pk, "quantity": 2, "requestId": "k"})),
        422,
        1028,
    )
    assert balance(someone) == (500, 0) and balance(member) == (900, 0)


def test_a_requestid_repeated_within_one_call_is_refused(client, member, make_reward):
    reward = make_reward()
    body = issue_body(
        member,
        {"rewardId": reward.pk, "quantity": 1, "requestId": "x"},
        {"rewardId": reward.pk, "quantity": 1, "requestId": "x"},
    )
    answer = assert_loyalty(issue(client, body), 422, 1001)
    assert "rewards[1].requestId" in answer["errors"]
    assert balance(member) == (1000, 0)


def test_custom_fields_are_stored_and_limited_to_ten(client, member, make_reward):
    reward = make_reward()
    fields = {f"k{n}": n for n in range(10)}
    answer = assert_loyalty(
        issue(
            client,
            issue_body(
                member,
                {"rewardId": reward.pk, "quantity": 1, "customFields": {"k0": "own"}},
                customFields=fields,
            ),
        ),
        200,
        200,
    )
    assert answer["rewards"][0]["customFields"] == {**fields, "k0": "own"}
    assert RewardIssue.objects.get().custom_fields["k0"] == "own"
    too_many = {f"k{n}": n for n in range(11)}
    assert_loyalty(
        issue(
            client,
            issue_body(member, {"rewardId": reward.pk, "quantity": 1}, customFields=too_many),
        ),
        422,
        1001,
    )
    merged_too_many = issue_body(
        member,
        {"rewardId": reward.pk, "quantity": 1, "customFields": {"extra": 1}},
        customFields=fields,
    )
    assert_loyalty(issue(client, merged_too_many), 422, 1001)
    assert_loyalty(
        issue(
            client,
            issue_body(
                member, {"rewardId": reward.pk, "quantity": 1}, customFields={"a": {"x": 1}}
            ),
        ),
        422,
        1001,
    )


def test_an_unknown_customer_is_1014(client, make_reward, other_tenant):
    reward = make_reward()
    stranger = CustomerFactory(company=other_tenant.company)
    for body in (
        {"mobile": "919999999999", "rewards": [{"rewardId": reward.pk, "quantity": 1}]},
        {"externalId": "nobody", "rewards": [{"rewardId": reward.pk, "quantity": 1}]},
        {"mobile": stranger.mobile, "rewards": [{"rewardId": reward.pk, "quantity": 1}]},
    ):
        answer = assert_loyalty(issue(client, body), 404, 1014)
        assert answer["status"] == {
            "success": False,
            "code": 1014,
            "message": "Cannot find customer for provided mobile/external-id/e-mail/id",
        }


def test_the_customer_may_be_named_by_email_or_external_id(client, tenant, make_reward):
    customer = CustomerFactory(company=tenant.company, external_id="ext_id98543198")
    points.points_earn(customer=customer, points=300, reason="seed")
    reward = make_reward()
    assert_loyalty(
        issue(
            client,
            {"externalId": "ext_id98543198", "rewards": [{"rewardId": reward.pk, "quantity": 1}]},
        ),
        200,
        200,
    )
    assert_loyalty(
        issue(
            client,
            {"email": customer.email.upper(), "rewards": [{"rewardId": reward.pk, "quantity": 1}]},
        ),
        200,
        200,
    )
    assert balance(customer) == (100, 0)


@pytest.mark.parametrize(
    ("body", "http"),
    [
        ("not json", 400),
        ('{"rewards": ' + "[" * 100_000 + "]" * 100_000 + "}", 400),
        ([1, 2], 400),
        ({"mobile": "1", "rewards": "x"}, 400),
        ({"mobile": "1", "rewards": []}, 422),
        ({"mobile": "1", "rewards": [5]}, 400),
        ({"mobile": "1", "rewards": [{"rewardId": True, "quantity": 1}]}, 400),
        ({"mobile": "1", "rewards": [{"rewardId": "abc", "quantity": 1}]}, 422),
        ({"mobile": "1", "rewards": [{"rewardId": 1, "quantity": "lots"}]}, 422),
        ({"mobile": "1", "rewards": [{"rewardId": 1, "quantity": "NaN"}]}, 422),
        ({"mobile": "1", "rewards": [{"rewardId": 1, "quantity": "1e999999999"}]}, 422),
        ({"mobile": "1", "rewards": [{"rewardId": 1, "quantity": 1e300}]}, 422),
        ({"mobile": "1", "rewards": [{"rewardId": 2**70, "quantity": 1}]}, 422),
        ({"mobile": "1", "rewards": [{"rewardId": 1, "quantity": None}]}, 422),
        ({"mobile": "1", "rewards": [{"rewardId": 1}]}, 422),
        ({"mobile": {"a": 1}, "rewards": [{"rewardId": 1, "quantity": 1}]}, 400),
        ({"mobile": "1", "customFields": [1], "rewards": [{"rewardId": 1, "quantity": 1}]}, 400),
        (
            {
                "mobile": "1",
                "rewards": [{"rewardId": 1, "quantity": 1, "paymentConfig": {"id": "x"}}],
            },
            422,
        ),
        (
            {
                "mobile": "1",
                "rewards": [{"rewardId": 1, "quantity": 1, "fulfillmentDetails": {"status": 3}}],
            },
            400,
        ),
        ({"mobile": "1", "rewards": [{"rewardId": 1, "quantity": 1}] * 51}, 422),
        ({"rewards": [{"rewardId": 1, "quantity": 1}]}, 400),
    ],
)
def test_bad_input_is_answered_in_the_loyalty_envelope(client, body, http):
    if isinstance(body, str):
        response = client.post(
            ISSUE + f"?username={STORE}&skip_validation=true", body, content_type="application/json"
        )
    else:
        response = issue(client, body)
    assert response.status_code == http, response.content
    status = response.json()["status"]
    assert status["success"] is False and status["code"] == 1001


def test_an_unknown_store_is_refused(client, member, make_reward):
    reward = make_reward()
    response = client.post(
        ISSUE + "?username=nope&skip_validation=true",
        issue_body(member, {"rewardId": reward.pk, "quantity": 1}),
        format="json",
    )
    assert_loyalty(response, 400, 1002)
    assert balance(member) == (1000, 0)
