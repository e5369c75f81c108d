"""Race tests on PostgreSQL: real threads, each with its own connection (closed at the end)."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from django.db import transaction

from config.api.errors import ApplicationError
from customers.models import Customer
from loyalty import services as points
from loyalty.models import CustomerGroup, PointsLedgerEntry
from loyalty.selectors import balances_from_ledger, group_balances_from_ledger
from orders.loyalty_services import IssueItem, reward_issue_bulk, reward_issue_voucher_settled
from orders.models import RewardIssue, Voucher
from rewards.models import Reward, Vendor
from tests.factories import CustomerFactory

from .conftest import issue, issue_body, loyalty_client, run_concurrently

race = pytest.mark.django_db(transaction=True)


def balance(holder) -> tuple[int, int]:
    holder.refresh_from_db()
    return holder.points_balance, holder.points_held


@race
def test_two_concurrent_issues_that_together_exceed_the_balance_one_succeeds(
    tenant, store, member, make_reward
):
    reward = make_reward(points_cost=600)

    def call():
        return issue(
            loyalty_client(tenant), issue_body(member, {"rewardId": reward.pk, "quantity": 1})
        )

    responses = run_concurrently([call, call])
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 422]
    refused = next(r for r in responses if r.status_code == 422).json()
    assert refused["status"]["code"] == 1015
    assert balance(member) == (400, 0)
    assert balances_from_ledger(customer=member) == (400, 0)
    assert Voucher.objects.count() == 1 and RewardIssue.objects.count() == 1


@race
def test_many_concurrent_issues_never_overdraw(tenant, store, member, make_reward):
    reward = make_reward(points_cost=150, qty=100)

    def call():
        return issue(
            loyalty_client(tenant), issue_body(member, {"rewardId": reward.pk, "quantity": 1})
        )

    responses = run_concurrently([call] * 10)
    assert sorted(r.status_code for r in responses) == [200] * 6 + [422] * 4  # 6 x 150 <= 1000
    assert balance(member) == (100, 0)
    assert balances_from_ledger(customer=member) == (100, 0)
    reward.refresh_from_db()
    assert reward.qty == 94 and Voucher.objects.count() == 6


@race
def test_twenty_concurrent_replays_of_one_request_id_deduct_once(
    tenant, store, member, make_reward
):
    reward = make_reward(points_cost=100, qty=50)
    body = issue_body(member, {"rewardId": reward.pk, "quantity": 2, "requestId": "same-key"})

    def call():
        return issue(loyalty_client(tenant), body)

    responses = run_concurrently([call] * 20)
    assert {r.status_code for r in responses} == {200}
    answers = [r.json() for r in responses]
    assert all(a == answers[0] for a in answers)
    assert balance(member) == (800, 0)
    assert PointsLedgerEntry.objects.filter(kind="spend").count() == 1
    assert RewardIssue.objects.count() == 1 and Voucher.objects.count() == 2
    reward.refresh_from_db()
    assert reward.qty == 48


@race
def test_one_request_id_raced_by_two_customers_is_used_once(tenant, store, member, make_reward):
    other = CustomerFactory(company=tenant.company)
    points.points_earn(customer=other, points=1000, reason="seed")
    reward = make_reward(points_cost=100)

    def call(customer):
        return lambda: issue(
            loyalty_client(tenant),
            issue_body(customer, {"rewardId": reward.pk, "quantity": 1, "requestId": "shared"}),
        )

    responses = run_concurrently([call(member), call(other)])
    codes = sorted(r.json()["status"]["code"] for r in responses)
    assert codes == [200, 1028]
    assert RewardIssue.objects.count() == 1
    assert sorted([balance(member)[0], balance(other)[0]]) == [900, 1000]


@race
def test_request_ids_in_opposite_order_by_two_customers_never_deadlock(
    tenant, store, member, make_reward
):
    # Each call inserts its requestIds' rows; in request order, customer A would hold "r1" and
    # wait for "r2" while B holds "r2" and waits for "r1". Issued in requestId order, they queue.
    other = CustomerFactory(company=tenant.company)
    points.points_earn(customer=other, points=1000, reason="seed")
    # Disjoint rewards, so the two calls share no reward lock that would queue them anyway.
    mine = [make_reward(points_cost=10), make_reward(points_cost=10)]
    theirs = [make_reward(points_cost=10), make_reward(points_cost=10)]

    def call(customer, rewards, ids):
        asks = [
            {"rewardId": reward.pk, "quantity": 1, "requestId": request_id}
            for reward, request_id in zip(rewards, ids, strict=True)
        ]
        return lambda: issue(loyalty_client(tenant), issue_body(customer, *asks))

    for n in range(15):
        a, b = f"r{n}-a", f"r{n}-b"
        responses = run_concurrently([call(member, mine, (a, b)), call(other, theirs, (b, a))])
        assert all(r.status_code in (200, 422) for r in responses), [r.content for r in responses]
        # Each requestId is issued once, to one of the two customers.
        assert RewardIssue.objects.filter(request_id__in=[a, b]).count() == 2
        answers = [r.json()["rewards"] for r in responses]
        assert [x["requestId"] for x in answers[0]] == [a, b]  # answers keep request order
        assert [x["requestId"] for x in answers[1]] == [b, a]


@race
def test_members_racing_on_one_pool_never_overdraw_it(tenant, store, make_reward):
    members = [CustomerFactory(company=tenant.company) for _ in range(6)]
    group = CustomerGroup.objects.create(
        company=tenant.company, name="Pool", primary_customer=members[0]
    )
    group.members.add(*members)
    points.points_adjust(customer=members[0], points=1000, reason="pool", group=group)
    reward = make_reward(points_cost=300)

    def call(customer):
        return lambda: issue(
            loyalty_client(tenant),
            issue_body(customer, {"rewardId": reward.pk, "quantity": 1}, user_group2_id=group.pk),
        )

    responses = run_concurrently([call(m) for m in members])
    assert sorted(r.status_code for r in responses) == [200] * 3 + [422] * 3
    assert balance(group) == (100, 0)
    assert group_balances_from_ledger(group=group) == (100, 0)


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [7, 11, 23])
def test_ledger_sums_equal_balances_after_a_random_run(tenant, make_reward, seed):
    """A seeded run of earns, adjustments, issues (generated and vendor), holds, captures and
    releases, on customers and a group pool: every balance equals its ledger's sums."""
    rng = random.Random(seed)
    customers = [CustomerFactory(company=tenant.company) for _ in range(3)]
    group = CustomerGroup.objects.create(
        company=tenant.company, name="G", primary_customer=customers[0]
    )
    group.members.add(*customers)
    vendor = Vendor.objects.create(name=f"v{seed}", base_url="http://127.0.0.1:9")
    rewards = [
        make_reward(points_cost=40, qty=200),
        make_reward(points_cost=15),
        make_reward(
            payment_mode=Reward.PaymentMode.CONV_RATIO,
            conversion_ratio=Decimal("0.7"),
            points_cost=None,
        ),
        make_reward(
            fulfilment=Reward.Fulfilment.VENDOR,
            vendor=vendor,
            vendor_product_code="P",
            points_cost=25,
        ),
    ]
    scope = frozenset({tenant.company.pk})
    issued = refused = 0
    for step in range(250):
        customer = Customer.objects.get(pk=rng.choice(customers).pk)
        use_group = rng.random() < 0.3
        op = rng.choice(["earn", "adjust", "issue", "issue", "settle"])
        try:
            if op == "earn":
                points.points_earn(customer=customer, points=rng.randint(1, 120), reason="order")
            elif op == "adjust":
                points.points_adjust(
                    customer=customer,
                    points=rng.choice([-1, 1]) * rng.randint(1, 60),
                    reason="staff",
                    group=group if use_group else None,
                )
            elif op == "issue":
                items = [
                    IssueItem(
                        reward_id=rng.choice(rewards).pk,
                        quantity=Decimal(str(round(rng.uniform(0.5, 3.5), 2))),
                        request_id=f"s{seed}-{step}-{n}" if rng.random() < 0.8 else None,
                    )
                    for n in range(rng.randint(1, 3))
                ]
                result = reward_issue_bulk(
                    company=tenant.company,
                    customer=customer,
                    items=items,
                    scope=scope,
                    group=group if use_group else None,
                )
                issued += result.http_status == 200
            else:
                pending = Voucher.objects.filter(status=Voucher.Status.PENDING).order_by("?")[:2]
                for voucher in pending:
                    with transaction.atomic():
                        voucher.status = rng.choice([Voucher.Status.ISSUED, Voucher.Status.FAILED])
                        voucher.save()
                        reward_issue_voucher_settled(voucher=voucher)
        except ApplicationError as exc:
            assert exc.type in {"insufficient_points", "validation_error"}, exc.type
            refused += 1
    assert issued > 10 and refused > 0
    for customer in customers:
        counters = balance(customer)
        assert counters[0] >= 0 and 0 <= counters[1] <= counters[0]
        assert balances_from_ledger(customer=customer) == counters
    group_counters = balance(group)
    assert group_counters[0] >= 0 and 0 <= group_counters[1] <= group_counters[0]
    assert group_balances_from_ledger(group=group) == group_counters
    # What is still held is exactly the points of the vouchers still pending.
    pending = Voucher.objects.filter(status=Voucher.Status.PENDING)
    held = sum(v.points_spent for v in pending)
    assert held == sum(balance(c)[1] for c in customers) + group_counters[1]
