"""A NUL character (0x00) anywhere a caller can put one is refused with the family's envelope.
PostgreSQL text and jsonb cannot hold it, and the database driver raised: a 500."""

from __future__ import annotations

import pytest

from orders.models import FulfilmentStatus, RewardIssue
from tests.conftest import assert_envelope
from tests.orders.conftest import EXAMPLE_BODY

from .conftest import BASE, STORE, assert_loyalty, issue, issue_body, vouchers_url

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "query",
    [
        f"username={STORE}&mobile=%00",
        f"username={STORE}&email=a%00b",
        f"username={STORE}&externalId=%00",
        "username=%00&mobile=1",
        f"username={STORE}&mobile=1&sortBy=%00",
    ],
)
def test_a_nul_in_the_query_is_a_400_in_the_loyalty_envelope(client, brand, member, query):
    assert_loyalty(client.get(f"{vouchers_url(brand.name)}?{query}"), 400, 1001)
    assert_loyalty(client.get(f"{BASE}/v1/user/points?{query}"), 400, 1001)


def test_a_nul_in_the_path_is_a_400_in_each_familys_envelope(client, member, company_api):
    response = client.get(f"{vouchers_url('BU%00KL')}?username={STORE}&mobile={member.mobile}")
    assert_loyalty(response, 400, 1001)
    assert_envelope(company_api.get("/v1/orders/ord_%00"), 400)


@pytest.mark.parametrize(
    "extra",
    [
        {"notes": "a\x00b"},
        {"transactionNumber": "\x00"},
        {"customFields": {"note": "a\x00b"}},
        {"customFields": {"a\x00": 1}},
    ],
)
def test_a_nul_in_the_issue_body_is_a_422_and_issues_nothing(client, member, make_reward, extra):
    body = issue_body(member, {"rewardId": make_reward().pk, "quantity": 1}, **extra)
    assert_loyalty(issue(client, body), 422, 1001)
    assert not RewardIssue.objects.exists()


@pytest.mark.parametrize(
    "item",
    [
        {"requestId": "r\x00"},
        {"customFields": {"a": "\x00"}},
        {"fulfillmentDetails": {"address": ["1 Main St", {"line2": "\x00"}]}},
    ],
)
def test_a_nul_in_a_reward_of_the_issue_body_is_a_422(client, member, make_reward, item):
    body = issue_body(member, {"rewardId": make_reward().pk, "quantity": 1, **item})
    assert_loyalty(issue(client, body), 422, 1001)
    assert not RewardIssue.objects.exists()


def test_a_nul_in_fulfilment_details_is_a_422(client, member, make_reward, tenant):
    FulfilmentStatus.objects.create(company=tenant.company, name="SHIPPED")
    body = issue_body(member, {"rewardId": make_reward().pk, "quantity": 1})
    transaction_id = assert_loyalty(issue(client, body), 200, 200)["rewards"][0]["transactionId"]
    url = f"{BASE}/v1/user/rewards/{transaction_id}/fulfillment?username={STORE}"

    response = client.put(url, {"status": "SHIPPED", "tracking": "T\x00"}, format="json")

    assert_loyalty(response, 422, 1001)
    assert RewardIssue.objects.get(pk=transaction_id).fulfilment_status is None


def test_a_nul_in_the_idempotency_key_is_a_422(customer_api):
    response = customer_api.post(
        "/v1/bigcity/redeemptiononskus",
        EXAMPLE_BODY,
        format="json",
        HTTP_IDEMPOTENCY_KEY="key\x00",
    )
    assert "Idempotency-Key" in assert_envelope(response, 422, "validation_error")["errors"]
