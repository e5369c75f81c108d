from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from companies.models import Company
from companies.services import company_secret_issue
from config.api.auth import company_token_for
from rewards.models import Brand, Reward, Sku
from rewards.services import reward_stock_take
from tests.conftest import assert_envelope
from tests.factories import RewardFactory, SkuFactory

pytestmark = pytest.mark.django_db

REWARDS = "/v1/bigcity/rewards"
SEED_FIELDS = ["id", "denomination_value", "status", "qty_trigger_limit", "qty", "skus"]

# The 200 example of seeds/001 (GET /v1/bigcity/rewards), verbatim.
SEED_EXAMPLE = r"""[
  {
    "id": 1,
    "denomination_value": "10",
    "status": 1,
    "qty_trigger_limit": "0",
    "qty": "0",
    "skus": "BIGCITY Seeds\t1200"
  },
  {
    "id": 4,
    "denomination_value": "30",
    "status": 1,
    "qty_trigger_limit": "0",
    "qty": "0",
    "skus": "BIGCITY Oats - All Variants"
  },
  {
    "id": 3,
    "denomination_value": "40",
    "status": 1,
    "qty_trigger_limit": "0",
    "qty": "0",
    "skus": "BIGCITY Herbs 800"
  },
  {
    "id": 5,
    "denomination_value": "50",
    "status": 1,
    "qty_trigger_limit": "0",
    "qty": "0",
    "skus": "BIGCITY 5 Grain"
  }
]"""


def _client_for(company: Company) -> APIClient:
    secret, _ = company_secret_issue(company=company)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {company_token_for(secret)}")
    return client


def _seed_six(item: dict) -> dict:
    # The first six keys, in the order the API wrote them: the order is part of the shape.
    return {key: item[key] for key in list(item)[:6]}


def test_rewards_list_from_seed_demo_matches_the_seed_example_byte_for_byte():
    call_command("seed_demo", stdout=io.StringIO())
    company = Company.objects.get(client_id="bigcity-demo")

    response = _client_for(company).get(REWARDS)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    real_ids = list(
        Reward.objects.filter(company=company).order_by("id").values_list("id", flat=True)
    )
    expected = json.loads(SEED_EXAMPLE)
    assert len(real_ids) == len(expected) == 4
    # The seed's ids are the database's; everything else is compared as is, in the seed's order.
    for item, real_id in zip(expected, real_ids, strict=True):
        item["id"] = real_id
    assert json.dumps([_seed_six(item) for item in body]) == json.dumps(expected)
    assert all(list(item)[:6] == SEED_FIELDS for item in body)
    assert b'"skus":"BIGCITY Seeds\\t1200"' in response.content
    assert b"BIGCITY Seeds\\t1200" in response.content


def test_rewards_list_extra_fields_follow_the_seed_fields(company_api, tenant):
    reward = RewardFactory(company=tenant.company, brand__name="BIGCITY")
    SkuFactory(reward=reward, code="S-1", product_name="Seeds", variant="", pack_size="1200")

    body = company_api.get(REWARDS).json()

    assert list(body[0]) == [*SEED_FIELDS, "brand", "sku_list"]
    assert body[0]["brand"] == "BIGCITY"
    assert body[0]["sku_list"] == [
        {"code": "S-1", "product_name": "Seeds", "variant": "", "pack_size": "1200"}
    ]


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (Decimal("12.50"), "12.5"),
        (Decimal("100"), "100"),
        (Decimal("100.00"), "100"),
        (Decimal("0.05"), "0.05"),
        (Decimal("0"), "0"),
        (Decimal("1234567890.10"), "1234567890.1"),
    ],
)
def test_denomination_is_a_plain_number_string(company_api, tenant, value, wire):
    RewardFactory(company=tenant.company, denomination_value=value)

    item = company_api.get(REWARDS).json()[0]

    assert item["denomination_value"] == wire


def test_limited_stock_and_threshold_render_as_plain_numbers(company_api, tenant):
    RewardFactory(company=tenant.company, qty=7, qty_trigger_limit=3)

    item = company_api.get(REWARDS).json()[0]

    assert (item["qty"], item["qty_trigger_limit"], item["status"]) == ("7", "3", 1)


def test_unlimited_stock_renders_qty_zero_with_status_one(company_api, tenant):
    RewardFactory(company=tenant.company, qty=None)

    item = company_api.get(REWARDS).json()[0]

    assert (item["qty"], item["status"]) == ("0", 1)


def test_a_limited_reward_that_runs_out_shows_status_zero(company_api, tenant):
    reward = RewardFactory(company=tenant.company, qty=2)
    with transaction.atomic():
        reward_stock_take(quantities={reward.pk: 2}, reason="order", reference="t")

    item = company_api.get(REWARDS).json()[0]

    assert (item["qty"], item["status"]) == ("0", 0)


def test_inactive_rewards_are_listed_too(company_api, tenant):
    RewardFactory(company=tenant.company, status=Reward.Status.INACTIVE, qty=None)

    body = company_api.get(REWARDS).json()

    assert [item["status"] for item in body] == [0]


def test_skus_join_fields_by_tab_and_skus_by_newline(company_api, tenant):
    reward = RewardFactory(company=tenant.company)
    SkuFactory(reward=reward, product_name="Oats", variant="Masala", pack_size="500g")
    SkuFactory(reward=reward, product_name="Oats", variant="", pack_size="1kg")
    SkuFactory(reward=reward, product_name="Oats", variant="Plain", pack_size="")
    SkuFactory(reward=reward, product_name="Oats Bar", variant="", pack_size="")

    item = company_api.get(REWARDS).json()[0]

    assert item["skus"] == "Oats\tMasala\t500g\nOats\t1kg\nOats\tPlain\nOats Bar"


def test_a_reward_without_skus_has_an_empty_sku_string(company_api, tenant):
    RewardFactory(company=tenant.company)

    item = company_api.get(REWARDS).json()[0]

    assert (item["skus"], item["sku_list"]) == ("", [])


def test_rewards_are_ordered_by_id(company_api, tenant):
    ids = [RewardFactory(company=tenant.company).pk for _ in range(5)]

    body = company_api.get(REWARDS).json()

    assert [item["id"] for item in body] == sorted(ids)


def test_an_empty_catalog_is_an_empty_array(company_api):
    response = company_api.get(REWARDS)

    assert response.status_code == 200
    assert response.content == b"[]"


def _bulk_catalog(company: Company, n: int) -> None:
    brand = Brand.objects.create(company=company, name=f"Bulk {n}")
    rewards = Reward.objects.bulk_create(
        Reward(
            company=company,
            brand=brand,
            key=f"bulk-{i}",
            name=f"Bulk {i}",
            denomination_value=Decimal(i % 90 + 10),
            qty=i if i % 2 else None,
        )
        for i in range(n)
    )
    Sku.objects.bulk_create(
        Sku(company=company, reward=reward, code=f"bulk-{reward.key}-{j}", product_name="P")
        for reward in rewards
        for j in range(2)
    )


def _queries_for_list(client: APIClient) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(REWARDS)
    assert response.status_code == 200
    return len(captured), len(response.json())


def test_query_count_does_not_grow_with_the_catalog(tenant, other_tenant):
    _bulk_catalog(tenant.company, 1)
    _bulk_catalog(other_tenant.company, 500)

    small_queries, small_len = _queries_for_list(_client_for(tenant.company))
    big_queries, big_len = _queries_for_list(_client_for(other_tenant.company))

    assert (small_len, big_len) == (1, 500)
    assert small_queries == big_queries
    # Authentication (secret + company), the rewards with their brand, and their SKUs.
    assert big_queries == 3


def test_another_companys_rewards_never_appear(company_api, tenant, other_tenant):
    mine = RewardFactory(company=tenant.company)
    SkuFactory(reward=RewardFactory(company=other_tenant.company), code="THEIRS")

    body = company_api.get(REWARDS).json()

    assert [item["id"] for item in body] == [mine.pk]
    assert "THEIRS" not in json.dumps(body)


def test_a_customer_token_is_refused(customer_api):
    assert_envelope(customer_api.get(REWARDS), 401, "invalid_token")


def test_no_token_is_refused(api):
    assert_envelope(api.get(REWARDS), 401, "not_authenticated")


def test_a_garbage_token_is_refused(api):
    api.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")
    assert_envelope(api.get(REWARDS), 401, "invalid_token")


def test_a_suspended_company_is_refused(company_api, tenant):
    Company.objects.filter(pk=tenant.company.pk).update(status=Company.Status.SUSPENDED)
    assert_envelope(company_api.get(REWARDS), 403, "company_inactive")


def test_writes_are_not_allowed(company_api):
    assert_envelope(company_api.post(REWARDS, {}, format="json"), 405, "method_not_allowed")


def test_the_schema_documents_the_rewards_list(api):
    response = api.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = json.loads(response.content)
    operation = schema["paths"]["/v1/bigcity/rewards"]["get"]
    assert operation["security"] == [{"companyToken": []}]
    items = operation["responses"]["200"]["content"]["application/json"]["schema"]["items"]
    component = schema["components"]["schemas"][items["$ref"].rsplit("/", 1)[1]]
    assert list(component["properties"])[:6] == SEED_FIELDS
    assert component["properties"]["qty"]["type"] == "string"
