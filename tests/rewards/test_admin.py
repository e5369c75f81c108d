from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from rewards.models import Brand, PoolCode, Reward, Sku, StockMovement
from tests.factories import BrandFactory, RewardFactory, SkuFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:rewards_reward_changelist")
ADD = reverse("admin:rewards_reward_add")


def change_url(reward: Reward) -> str:
    return reverse("admin:rewards_reward_change", args=[reward.pk])


def adjust_url(reward: Reward) -> str:
    return reverse("admin:rewards_reward_adjust_stock", args=[reward.pk])


def pool_url(reward: Reward) -> str:
    return reverse("admin:rewards_reward_pool_codes", args=[reward.pk])


def reward_form(
    reward: Reward | None = None, skus: list[dict] | None = None, **fields: Any
) -> dict:
    """POST data for the reward form with its SKU inline (prefix "skus")."""
    existing = list(reward.skus.order_by("id")) if reward else []
    data: dict[str, Any] = {}
    if reward is not None:
        data.update(
            brand=reward.brand_id,
            key=reward.key,
            name=reward.name,
            description=reward.description,
            denomination_value=str(reward.denomination_value),
            status=reward.status,
            qty_trigger_limit=reward.qty_trigger_limit,
            points_cost=reward.points_cost or "",
            validity_days=reward.validity_days or "",
            fulfilment=reward.fulfilment,
            vendor_product_code=reward.vendor_product_code,
        )
    data.update(fields)
    rows = [
        {"id": sku.pk, "reward": reward.pk, "code": sku.code, "product_name": sku.product_name}
        for sku in existing
    ] + (skus or [])
    data.update(
        {
            "skus-TOTAL_FORMS": len(rows),
            "skus-INITIAL_FORMS": len(existing),
            "skus-MIN_NUM_FORMS": 0,
            "skus-MAX_NUM_FORMS": 1000,
        }
    )
    for index, row in enumerate(rows):
        for name, value in row.items():
            data[f"skus-{index}-{name}"] = value
    return {key: ("" if value is None else value) for key, value in data.items()}


def test_changelist_renders_and_searches_by_sku_code(admin_client_logged_in, tenant):
    found = RewardFactory(company=tenant.company, name="Seeds voucher", qty=3)
    SkuFactory(reward=found, code="BIGCITY Seeds")
    RewardFactory(company=tenant.company, name="Oats voucher")

    response = admin_client_logged_in.get(CHANGELIST)
    assert response.status_code == 200
    assert b"Seeds voucher" in response.content and b"Oats voucher" in response.content

    response = admin_client_logged_in.get(CHANGELIST, {"q": "bigcity seeds"})
    assert list(response.context["cl"].result_list) == [found]


@pytest.mark.parametrize(
    ("stock", "expected"), [("unlimited", ["u"]), ("low", ["low", "out"]), ("out", ["out"])]
)
def test_changelist_filters_by_stock(admin_client_logged_in, tenant, stock, expected):
    RewardFactory(company=tenant.company, key="u", qty=None)
    RewardFactory(company=tenant.company, key="low", qty=2, qty_trigger_limit=5)
    RewardFactory(company=tenant.company, key="out", qty=0, status=0)
    RewardFactory(company=tenant.company, key="ok", qty=50, qty_trigger_limit=5)

    response = admin_client_logged_in.get(CHANGELIST, {"stock": stock})

    assert sorted(r.key for r in response.context["cl"].result_list) == sorted(expected)


def test_add_form_creates_a_reward_with_its_opening_stock_movement_and_skus(
    admin_client_logged_in, tenant, staff_user
):
    brand = BrandFactory(company=tenant.company)
    assert admin_client_logged_in.get(ADD).status_code == 200

    response = admin_client_logged_in.post(
        ADD,
        reward_form(
            company=tenant.company.pk,
            brand=brand.pk,
            key="new-reward",
            name="New reward",
            denomination_value="25.50",
            status=1,
            qty=25,
            qty_trigger_limit=5,
            fulfilment="generated",
            skus=[{"code": "NEW-SKU", "product_name": "New product", "pack_size": "500g"}],
        ),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    reward = Reward.objects.get(key="new-reward")
    assert reward.qty == 25
    movement = reward.movements.get()
    assert (movement.delta, movement.qty_after, movement.reason, movement.actor) == (
        25,
        25,
        "restock",
        staff_user,
    )
    sku = reward.skus.get()
    assert (sku.code, sku.company_id, sku.pack_size) == ("NEW-SKU", tenant.company.pk, "500g")


def test_add_form_refuses_an_active_reward_with_no_stock(admin_client_logged_in, tenant):
    brand = BrandFactory(company=tenant.company)

    response = admin_client_logged_in.post(
        ADD,
        reward_form(
            company=tenant.company.pk,
            brand=brand.pk,
            key="empty",
            name="Empty",
            denomination_value="10",
            status=1,
            qty=0,
            qty_trigger_limit=0,
            fulfilment="generated",
        ),
    )

    assert response.status_code == 200
    assert "status" in response.context["adminform"].form.errors
    assert not Reward.objects.exists()


def test_add_form_refuses_a_brand_of_another_company(admin_client_logged_in, tenant, other_tenant):
    foreign = BrandFactory(company=other_tenant.company)

    response = admin_client_logged_in.post(
        ADD,
        reward_form(
            company=tenant.company.pk,
            brand=foreign.pk,
            key="x",
            name="X",
            denomination_value="10",
            status=1,
            qty="",
            qty_trigger_limit=0,
            fulfilment="generated",
        ),
    )

    assert response.context["adminform"].form.errors["brand"] == [
        "This brand belongs to another company"
    ]
    assert not Reward.objects.exists()


def test_change_form_shows_stock_read_only(admin_client_logged_in, tenant):
    reward = RewardFactory(company=tenant.company, qty=9, fulfilment="pool")

    response = admin_client_logged_in.get(change_url(reward))

    assert response.status_code == 200
    assert b'name="qty"' not in response.content
    assert adjust_url(reward).encode() in response.content
    assert pool_url(reward).encode() in response.content


def test_change_form_saves_fields_without_touching_stock(admin_client_logged_in, tenant):
    reward = RewardFactory(company=tenant.company, qty=9)
    data = reward_form(reward, name="Renamed", qty=999)
    # An order takes stock after the editor opened the form.
    Reward.objects.filter(pk=reward.pk).update(qty=8)

    response = admin_client_logged_in.post(change_url(reward), data)

    assert response.status_code == 302
    reward.refresh_from_db()
    assert (reward.name, reward.qty) == ("Renamed", 8)
    assert not StockMovement.objects.exists()


def test_change_form_cannot_activate_a_reward_out_of_stock(admin_client_logged_in, tenant):
    reward = RewardFactory(company=tenant.company, qty=0, status=0)

    response = admin_client_logged_in.post(change_url(reward), reward_form(reward, status=1))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["status"] == [
        "This reward is out of stock: adjust its stock before activating it"
    ]
    reward.refresh_from_db()
    assert reward.status == 0


def test_sku_inline_sets_the_company_and_replaces_codes(admin_client_logged_in, tenant):
    reward = RewardFactory(company=tenant.company)
    old = SkuFactory(reward=reward, code="OLD")
    data = reward_form(reward, skus=[{"code": "ADDED", "product_name": "Added", "variant": "Red"}])
    data["skus-0-DELETE"] = "on"

    response = admin_client_logged_in.post(change_url(reward), data)

    assert response.status_code == 302
    assert not Sku.objects.filter(pk=old.pk).exists()
    sku = Sku.objects.get(code="ADDED")
    assert (sku.reward_id, sku.company_id, sku.variant) == (reward.pk, tenant.company.pk, "Red")


def test_sku_inline_refuses_a_code_of_another_reward(admin_client_logged_in, tenant):
    SkuFactory(reward=RewardFactory(company=tenant.company, key="holder"), code="TAKEN")
    reward = RewardFactory(company=tenant.company)

    response = admin_client_logged_in.post(
        change_url(reward),
        reward_form(
            reward,
            skus=[
                {"code": " taken ", "product_name": "T"},
                {"code": "Twice", "product_name": "A"},
                {"code": "twice", "product_name": "B"},
            ],
        ),
    )

    assert response.status_code == 200
    errors = [
        form.errors.get("code") for form in response.context["inline_admin_formsets"][0].formset
    ]
    assert errors == [
        ["This code is already a SKU of 'holder'"],
        None,
        ["This code is already a SKU of this reward"],
    ]
    assert not reward.skus.exists()


def test_sku_inline_refuses_tabs_line_breaks_and_control_characters(admin_client_logged_in, tenant):
    # GET /v1/bigcity/rewards joins a SKU's fields with tabs and SKUs with newlines.
    reward = RewardFactory(company=tenant.company)
    control = "Must not contain a tab, a line break or another control character."

    response = admin_client_logged_in.post(
        change_url(reward),
        reward_form(
            reward,
            skus=[
                {"code": "A\tB", "product_name": "Fine", "variant": "Red\nBlue"},
                {"code": "C", "product_name": "C\x1b", "pack_size": "1\u20292"},
                {"code": "D", "product_name": "Fine too", "variant": "Mix", "pack_size": "1 kg"},
            ],
        ),
    )

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert [dict(form.errors) for form in formset] == [
        {"code": [control], "variant": [control]},
        {"product_name": [control], "pack_size": [control]},
        {},
    ]
    assert not reward.skus.exists()


def test_adjust_stock_page_records_a_movement_with_the_user(
    admin_client_logged_in, tenant, staff_user
):
    reward = RewardFactory(company=tenant.company, qty=10)
    assert admin_client_logged_in.get(adjust_url(reward)).status_code == 200

    response = admin_client_logged_in.post(
        adjust_url(reward), {"delta": "-3", "reason": "adjustment", "note": "3 damaged"}
    )

    assert response.status_code == 302 and response["Location"] == change_url(reward)
    reward.refresh_from_db()
    assert reward.qty == 7
    movement = reward.movements.get()
    assert (movement.delta, movement.qty_after, movement.reason, movement.note, movement.actor) == (
        -3,
        7,
        "adjustment",
        "3 damaged",
        staff_user,
    )


def test_a_restock_reactivates_a_reward_that_ran_out(admin_client_logged_in, tenant, staff_user):
    reward = RewardFactory(company=tenant.company, qty=0, status=0)

    admin_client_logged_in.post(
        adjust_url(reward), {"delta": "20", "reason": "restock", "note": "delivery 42"}
    )

    reward.refresh_from_db()
    assert (reward.qty, reward.status) == (20, 1)
    assert reward.movements.get().reason == "restock"


@pytest.mark.parametrize(
    ("qty", "delta", "message"),
    [
        (2, "-5", b"Stock cannot go below zero (it is 2)"),
        (None, "5", b"This reward has unlimited stock"),
    ],
)
def test_adjust_stock_page_shows_refusals(admin_client_logged_in, tenant, qty, delta, message):
    reward = RewardFactory(company=tenant.company, qty=qty)

    response = admin_client_logged_in.post(
        adjust_url(reward), {"delta": delta, "reason": "adjustment", "note": "x"}
    )

    assert response.status_code == 200 and message in response.content
    assert not StockMovement.objects.exists()


def test_adjust_stock_action_sends_one_reward_to_its_page(admin_client_logged_in, tenant):
    reward = RewardFactory(company=tenant.company, qty=1)

    response = admin_client_logged_in.post(
        CHANGELIST, {"action": "adjust_stock", "_selected_action": [reward.pk]}
    )

    assert response.status_code == 302 and response["Location"] == adjust_url(reward)


def test_activate_action_leaves_out_of_stock_rewards_inactive(admin_client_logged_in, tenant):
    out = RewardFactory(company=tenant.company, qty=0, status=0)
    unlimited = RewardFactory(company=tenant.company, qty=None, status=0)

    admin_client_logged_in.post(
        CHANGELIST, {"action": "activate", "_selected_action": [out.pk, unlimited.pk]}
    )

    out.refresh_from_db()
    unlimited.refresh_from_db()
    assert (out.status, unlimited.status) == (0, 1)


def test_pool_upload_page_loads_codes(admin_client_logged_in, tenant, staff_user):
    reward = RewardFactory(company=tenant.company, qty=0, status=0, fulfilment="pool")
    assert admin_client_logged_in.get(pool_url(reward)).status_code == 200
    upload = SimpleUploadedFile("codes.csv", b"code\nA1\nB2\nB2\n\n", content_type="text/csv")

    response = admin_client_logged_in.post(pool_url(reward), {"file": upload})

    assert response.status_code == 302
    assert sorted(PoolCode.objects.filter(reward=reward).values_list("code", flat=True)) == [
        "A1",
        "B2",
    ]
    reward.refresh_from_db()
    assert (reward.qty, reward.status) == (2, 1)
    movement = reward.movements.get()
    assert (movement.reason, movement.delta, movement.actor) == ("pool_import", 2, staff_user)


def test_pool_upload_refuses_a_reward_that_is_not_a_pool(admin_client_logged_in, tenant):
    reward = RewardFactory(company=tenant.company, fulfilment="generated")
    upload = SimpleUploadedFile("codes.csv", b"A1\n", content_type="text/csv")

    response = admin_client_logged_in.post(pool_url(reward), {"file": upload})

    assert response.status_code == 200
    assert b"only for a reward fulfilled from a code pool" in response.content
    assert not PoolCode.objects.exists()


def test_pool_upload_refuses_a_file_that_is_not_text(admin_client_logged_in, tenant):
    reward = RewardFactory(company=tenant.company, qty=0, status=0, fulfilment="pool")
    upload = SimpleUploadedFile("codes.csv", b"\xff\xfe\x00bad", content_type="text/csv")

    response = admin_client_logged_in.post(pool_url(reward), {"file": upload})

    assert response.status_code == 200 and b"The file is not UTF-8 text" in response.content


def test_extra_pages_of_an_unknown_reward_redirect(admin_client_logged_in):
    response = admin_client_logged_in.get(
        reverse("admin:rewards_reward_adjust_stock", args=[999999])
    )
    assert response.status_code == 302


def test_extra_pages_need_a_staff_login(client, tenant):
    reward = RewardFactory(company=tenant.company, qty=1)

    response = client.post(adjust_url(reward), {"delta": "5", "reason": "restock", "note": "x"})

    assert response.status_code == 302 and "/login/" in response["Location"]
    reward.refresh_from_db()
    assert reward.qty == 1


def test_stock_movements_are_read_only_in_the_admin(admin_client_logged_in, tenant, staff_user):
    reward = RewardFactory(company=tenant.company, qty=4)
    admin_client_logged_in.post(
        adjust_url(reward), {"delta": "1", "reason": "restock", "note": "found one"}
    )
    movement = StockMovement.objects.get()

    changelist = reverse("admin:rewards_stockmovement_changelist")
    response = admin_client_logged_in.get(changelist, {"reward__id__exact": reward.pk})
    assert response.status_code == 200 and list(response.context["cl"].result_list) == [movement]
    assert admin_client_logged_in.get(reverse("admin:rewards_stockmovement_add")).status_code == 403
    detail = admin_client_logged_in.get(
        reverse("admin:rewards_stockmovement_change", args=[movement.pk])
    )
    assert detail.status_code == 200 and b'name="delta"' not in detail.content
    response = admin_client_logged_in.get(change_url(reward))
    assert b"found one" in response.content  # recent movements on the reward's page


def test_brand_admin_renders_and_autocompletes(admin_client_logged_in, tenant):
    BrandFactory(company=tenant.company, name="BIGCITY")

    assert admin_client_logged_in.get(reverse("admin:rewards_brand_changelist")).status_code == 200
    response = admin_client_logged_in.get(
        reverse("admin:autocomplete"),
        {"app_label": "rewards", "model_name": "reward", "field_name": "brand", "term": "BIG"},
    )
    assert response.status_code == 200
    assert [item["text"] for item in response.json()["results"]] == ["BIGCITY"]
    assert Brand.objects.count() == 1
