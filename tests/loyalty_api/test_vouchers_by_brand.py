"""GET v1/user/vouchers/brand/{brand}: a customer's vouchers of a brand, in the seed's shape."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.models import Voucher
from tests.factories import BrandFactory, CustomerFactory

from .conftest import STORE, assert_loyalty, issue, issue_body, vouchers_url

pytestmark = pytest.mark.django_db

SEED_FIELDS = {
    "id", "name", "description", "imageId", "imageUrl", "thumbnailId", "thumbnailUrl",
    "termAndConditionsId", "termAndConditionsUrl", "tier", "label", "priority", "intouchPoints",
    "group", "startTime", "endTime", "expired", "started", "programId", "categoryList",
    "customFields", "loyaltyProgramCriteria", "restrictions", "appliedPromotions", "groupName",
    "groupRank", "rewardRank", "images", "videos",
}  # fmt: skip
VOUCHER_FIELDS = {"couponCode", "codeExpiry", "issuedAt", "transactionId"}


def voucher(customer, reward, *, code: str, days_ago: int = 0, valid_till=None, status="issued"):
    created = timezone.now() - dt.timedelta(days=days_ago)
    v = Voucher.objects.create(
        company=customer.company,
        customer=customer,
        reward=reward,
        code=code,
        status=status,
        denomination_value=Decimal("10"),
        valid_till=valid_till,
        issued_at=created,
    )
    Voucher.objects.filter(pk=v.pk).update(created_at=created)
    return v


def get(client, brand="BUKL", **params):
    return client.get(vouchers_url(brand), {"username": STORE, **params})


def codes(body) -> list[str]:
    return [r["couponCode"] for r in body["rewards"]]


def test_an_issued_voucher_is_shown_with_the_seeds_reward_fields(client, member, make_reward):
    reward = make_reward(
        name="Flat 100 off on protein powder",
        description="Burn 100 points",
        image_id="0f1aee40",
        image_url="https://example.com/r.jpg",
        thumbnail_url="https://example.com/t.jpg",
        terms_url="https://example.com/t.html",
        tier="4",
        label="4",
        priority=1,
        points_cost=100,
        group="Protein",
        group_name="TOP",
        group_rank=1,
        reward_rank=5,
        starts_at=dt.datetime(2024, 1, 24, 8, 28, 16, tzinfo=dt.UTC),
        ends_at=dt.datetime(2028, 7, 31, 2, 58, 16, tzinfo=dt.UTC),
        categories=[{"id": 2, "name": "accessories", "enabled": True}],
        custom_fields={"CF2": "value"},
        validity_days=30,
    )
    answer = assert_loyalty(
        issue(client, issue_body(member, {"rewardId": reward.pk, "quantity": 1})), 200, 200
    )
    body = assert_loyalty(get(client, mobile=member.mobile), 200, 200)
    assert body["status"] == {
        "success": True,
        "code": 200,
        "message": "User Reward fetched successfully",
    }
    [item] = body["rewards"]
    assert item.keys() >= SEED_FIELDS | VOUCHER_FIELDS
    assert item["id"] == reward.pk and item["intouchPoints"] == 100
    assert (item["startTime"], item["endTime"]) == ("2024-01-24 08:28:16", "2028-07-31 02:58:16")
    assert (item["expired"], item["started"]) == (False, True)
    assert item["categoryList"] == [{"id": 2, "name": "accessories", "enabled": True}]
    assert item["customFields"] == {"CF2": "value"} and item["restrictions"] == {"isValid": True}
    assert item["loyaltyProgramCriteria"] == item["appliedPromotions"] == item["images"] == []
    assert (item["group"], item["groupName"], item["groupRank"], item["rewardRank"]) == (
        "Protein",
        "TOP",
        1,
        5,
    )
    assert item["thumbnailId"] is None and item["programId"] is None
    stored = Voucher.objects.get()
    assert item["couponCode"] == stored.code
    assert item["codeExpiry"] == f"{stored.valid_till.isoformat()} 23:59:59"
    assert item["transactionId"] == answer["rewards"][0]["transactionId"]
    assert len(item["issuedAt"]) == 19
    assert body["pagination"] == {"limit": 10, "page": 0, "total": 1}


def test_pagination_with_a_total(client, member, make_reward):
    reward = make_reward()
    for n in range(25):
        voucher(member, reward, code=f"C{n:02d}")
    first = assert_loyalty(get(client, mobile=member.mobile, sortBy="INTOUCH_VOUCHER"), 200, 200)
    assert codes(first) == [f"C{n:02d}" for n in range(10)]
    assert first["pagination"] == {"limit": 10, "page": 0, "total": 25}
    last = assert_loyalty(
        get(client, mobile=member.mobile, sortBy="INTOUCH_VOUCHER", limit=10, page=2), 200, 200
    )
    assert codes(last) == [f"C{n:02d}" for n in range(20, 25)]
    beyond = assert_loyalty(get(client, mobile=member.mobile, page=9), 200, 200)
    assert beyond["rewards"] == [] and beyond["pagination"]["total"] == 25
    for bad in ({"limit": 101}, {"limit": 0}, {"page": -1}, {"limit": "x"}, {"page": 10**30}):
        assert_loyalty(get(client, mobile=member.mobile, **bad), 400, 1001)


@pytest.fixture
def spread(member, make_reward):
    """Three rewards, vouchers that differ on every sort key."""
    today = timezone.localdate()
    cheap, mid, dear = (make_reward(points_cost=p) for p in (300, 100, 200))
    return {
        "b": voucher(member, mid, code="B", days_ago=1, valid_till=today + dt.timedelta(days=9)),
        "a": voucher(member, dear, code="A", days_ago=3, valid_till=today + dt.timedelta(days=5)),
        "c": voucher(member, cheap, code="C", days_ago=2, valid_till=None),
    }


@pytest.mark.parametrize(
    ("sort", "ascending"),
    [
        ("REWARD_ID", ["C", "B", "A"]),  # rewards created cheap, mid, dear
        ("INTOUCH_VOUCHER", ["A", "B", "C"]),
        ("INTOUCH_VOUCHER_EXPIRY", ["A", "B", "C"]),  # no expiry last
        ("PURCHASE_DATE", ["A", "C", "B"]),
        (None, ["B", "A", "C"]),  # default: intouchPoints 100, 200, 300
    ],
)
def test_each_sort_key_in_both_directions(client, member, spread, sort, ascending):
    params = {"mobile": member.mobile}
    if sort:
        params["sortBy"] = sort.lower() if sort == "PURCHASE_DATE" else sort  # any case
    assert codes(assert_loyalty(get(client, **params), 200, 200)) == ascending
    assert codes(assert_loyalty(get(client, **params, orderBy="ASC"), 200, 200)) == ascending
    descending = codes(assert_loyalty(get(client, **params, orderBy="DESC"), 200, 200))
    if sort == "INTOUCH_VOUCHER_EXPIRY":
        assert descending == ["B", "A", "C"]  # nulls stay last
    else:
        assert descending == ascending[::-1]


def test_status_filters(client, member, make_reward):
    reward = make_reward()
    today = timezone.localdate()
    voucher(member, reward, code="LIVE", valid_till=today)
    voucher(member, reward, code="FOREVER")
    voucher(member, reward, code="PAST", valid_till=today - dt.timedelta(days=1))
    voucher(member, reward, code="MARKED", status=Voucher.Status.EXPIRED)
    voucher(member, reward, code="USED", status=Voucher.Status.REDEEMED)
    voucher(member, reward, code="BROKEN", status=Voucher.Status.FAILED)
    by = {"sortBy": "INTOUCH_VOUCHER", "mobile": member.mobile}
    assert codes(get(client, **by, status="active").json()) == ["FOREVER", "LIVE"]
    assert codes(get(client, **by, status="EXPIRED").json()) == ["MARKED", "PAST"]
    assert codes(get(client, **by, status="redeemed").json()) == ["USED"]
    assert codes(get(client, **by).json()) == ["FOREVER", "LIVE", "MARKED", "PAST", "USED"]
    assert_loyalty(get(client, **by, status="lost"), 400, 1001)
    assert_loyalty(get(client, mobile=member.mobile, sortBy="PRICE"), 400, 1001)
    assert_loyalty(get(client, mobile=member.mobile, orderBy="UP"), 400, 1001)


def test_only_the_brands_and_the_customers_vouchers(client, tenant, member, make_reward):
    other_brand = BrandFactory(company=tenant.company, name="Other")
    voucher(member, make_reward(), code="MINE")
    voucher(member, make_reward(brand=other_brand), code="OTHER-BRAND")
    voucher(CustomerFactory(company=tenant.company), make_reward(), code="SOMEONE-ELSES")
    assert codes(get(client, brand="bukl", mobile=member.mobile).json()) == ["MINE"]


def test_unknown_customer_is_1014_and_unknown_brand_has_its_own_code(client, member, other_tenant):
    body = assert_loyalty(get(client, mobile="919999999999"), 404, 1014)
    assert body["status"]["message"] == (
        "Cannot find customer for provided mobile/external-id/e-mail/id"
    )
    assert_loyalty(get(client, brand="Nope", mobile=member.mobile), 404, 1003)
    BrandFactory(company=other_tenant.company, name="Theirs")
    assert_loyalty(get(client, brand="Theirs", mobile=member.mobile), 404, 1003)
    assert_loyalty(get(client), 400, 1001)  # no identifier
    assert_loyalty(client.get(vouchers_url("BUKL"), {"mobile": member.mobile}), 400, 1002)


def test_the_query_count_does_not_grow_with_the_page_size(client, member, make_reward):
    for n in range(40):
        voucher(member, make_reward(), code=f"Q{n:02d}")

    def queries(limit: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            body = assert_loyalty(get(client, mobile=member.mobile, limit=limit), 200, 200)
        assert len(body["rewards"]) == limit
        return len(captured)

    assert queries(1) == queries(40)


def test_the_seeds_single_reward_object_is_the_pages_first_item(client, member, make_reward):
    reward = make_reward()
    voucher(member, reward, code="FIRST-CODE", days_ago=1)
    voucher(member, reward, code="SECOND-CODE")
    body = assert_loyalty(get(client, reward.brand.name, mobile=member.mobile), 200, 200)
    assert body["reward"] == body["rewards"][0]
    assert body["reward"]["couponCode"] == codes(body)[0]
    empty = assert_loyalty(
        get(client, reward.brand.name, mobile=member.mobile, status="redeemed"), 200, 200
    )
    assert empty["reward"] is None and empty["rewards"] == []
