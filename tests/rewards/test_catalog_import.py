from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, ManagementUtility, call_command
from django.db import connections
from django.db.models import Sum

from companies.models import Company
from rewards.catalog_import import CatalogImportError, catalog_import
from rewards.models import Brand, PoolCode, Reward, Sku, StockMovement
from rewards.services import reward_stock_adjust
from tests.factories import RewardFactory, SkuFactory

from .conftest import catalog_row

pytestmark = pytest.mark.django_db


def _errors(company: Company, rows: object) -> list[str]:
    with pytest.raises(CatalogImportError) as caught:
        catalog_import(company=company, rows=rows)
    return caught.value.row_errors


def _snapshot(company: Company) -> list[tuple]:
    rewards = list(Reward.objects.filter(company=company).order_by("id").values_list())
    skus = list(Sku.objects.filter(company=company).order_by("id").values_list())
    movements = list(StockMovement.objects.filter(reward__company=company).values_list())
    return [rewards, skus, movements, list(Brand.objects.filter(company=company).values_list())]


def test_import_creates_rewards_with_brand_and_skus(tenant):
    rows = [
        catalog_row(
            "seeds-10",
            denomination_value=12.5,
            qty_trigger_limit=5,
            points_cost=120,
            fulfilment="vendor",
            vendor_product_code="V-1",
            valid_until="2026-12-31",
            skus=[
                {
                    "code": " Seeds-1 ",
                    "product_name": "Seeds",
                    "variant": "Mix",
                    "pack_size": "1200",
                },
                {"code": "Seeds-2", "product_name": "Seeds", "variant": None},
            ],
        )
    ]

    result = catalog_import(company=tenant.company, rows=rows)

    assert (result.created, result.updated, result.unchanged) == (["seeds-10"], [], [])
    reward = Reward.objects.get(company=tenant.company, key="seeds-10")
    assert reward.brand.name == "BIGCITY" and reward.brand.company == tenant.company
    assert reward.denomination_value == Decimal("12.50")
    assert (reward.qty, reward.qty_trigger_limit, reward.points_cost) == (None, 5, 120)
    assert (reward.fulfilment, reward.vendor_product_code) == ("vendor", "V-1")
    assert str(reward.valid_until) == "2026-12-31"
    skus = list(reward.skus.order_by("id").values_list("code", "variant", "pack_size", "company"))
    assert skus == [
        ("Seeds-1", "Mix", "1200", tenant.company.pk),
        ("Seeds-2", "", "", tenant.company.pk),
    ]
    assert Sku.objects.get(code="Seeds-1").code_normalized == "seeds-1"


def test_import_updates_by_key_and_replaces_skus(tenant):
    catalog_import(
        company=tenant.company,
        rows=[catalog_row("a", skus=[{"code": "OLD", "product_name": "Old"}])],
    )
    reward = Reward.objects.get(key="a")

    result = catalog_import(
        company=tenant.company,
        rows=[
            catalog_row(
                "a",
                name="Renamed",
                brand="Other brand",
                denomination_value="30",
                skus=[
                    {"code": "NEW-1", "product_name": "New"},
                    {"code": "NEW-2", "product_name": "N"},
                ],
            ),
            catalog_row("b"),
        ],
    )

    assert (result.created, result.updated) == (["b"], ["a"])
    reward.refresh_from_db()
    assert (reward.name, reward.brand.name, reward.denomination_value) == (
        "Renamed",
        "Other brand",
        Decimal("30"),
    )
    assert list(reward.skus.values_list("code", flat=True)) == ["NEW-1", "NEW-2"]
    assert not Sku.objects.filter(code="OLD").exists()
    assert Reward.objects.filter(company=tenant.company).count() == 2


def test_importing_the_same_file_twice_changes_nothing(tenant):
    rows = [catalog_row("a", qty=5), catalog_row("b", skus=[])]
    catalog_import(company=tenant.company, rows=rows)
    before = _snapshot(tenant.company)

    result = catalog_import(company=tenant.company, rows=json.loads(json.dumps(rows)))

    assert (result.created, result.updated, result.unchanged) == ([], [], ["a", "b"])
    assert _snapshot(tenant.company) == before


def test_optional_fields_left_out_keep_their_value_on_update(tenant):
    catalog_import(company=tenant.company, rows=[catalog_row("a", description="Kept")])

    catalog_import(company=tenant.company, rows=[catalog_row("a", name="New name")])

    reward = Reward.objects.get(key="a")
    assert (reward.name, reward.description) == ("New name", "Kept")


def test_a_sku_code_may_move_between_rewards_in_one_file(tenant):
    catalog_import(
        company=tenant.company,
        rows=[
            catalog_row("a", skus=[{"code": "X", "product_name": "X"}]),
            catalog_row("b", skus=[{"code": "Y", "product_name": "Y"}]),
        ],
    )

    catalog_import(
        company=tenant.company,
        rows=[
            catalog_row("a", skus=[{"code": "y", "product_name": "Y"}]),
            catalog_row("b", skus=[{"code": "X", "product_name": "X"}]),
        ],
    )

    assert dict(Sku.objects.values_list("code", "reward__key")) == {"y": "a", "X": "b"}


def test_bad_rows_are_reported_with_their_index_and_nothing_is_loaded(tenant):
    catalog_import(company=tenant.company, rows=[catalog_row("existing", name="Before")])
    before = _snapshot(tenant.company)
    rows = [
        catalog_row("existing", name="After"),  # valid, but must not be written
        catalog_row("new-good"),
        catalog_row("bad-1", denomination_value="ten"),
        catalog_row("bad-2", status=2, qty="5"),
        "not an object",
        {"key": "bad-3"},
        catalog_row("bad-4", skus=[{"code": "", "product_name": "P"}, {"product_name": "Q"}]),
        catalog_row("bad-5", fulfilment="carrier-pigeon", qyt=3),
    ]

    errors = _errors(tenant.company, rows)

    assert "row 2: denomination_value: A valid number is required." in errors
    assert "row 3: status: Ensure this value is less than or equal to 1." in errors
    assert "row 3: qty: Must be a JSON integer." in errors
    assert "row 4: must be an object" in errors
    assert "row 5: name: This field is required." in errors
    assert "row 5: skus: This field is required." in errors
    assert "row 6: skus[0].code: This field may not be blank." in errors
    assert "row 6: skus[1].code: This field is required." in errors
    assert any(line.startswith("row 7: fulfilment: ") for line in errors)
    assert "row 7: qyt: Unknown field" in errors
    assert not any(line.startswith(("row 0", "row 1")) for line in errors)
    assert _snapshot(tenant.company) == before


def test_rows_must_carry_qty_and_points_cost_even_when_null(tenant):
    row = catalog_row("a")
    del row["qty"], row["points_cost"]

    errors = _errors(tenant.company, [row])

    assert errors == [
        "row 0: qty: This field is required.",
        "row 0: points_cost: This field is required.",
    ]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"denomination_value": "12.345"},
            "row 0: denomination_value: Ensure that there are no more than 2 decimal places.",
        ),
        (
            {"denomination_value": -1},
            "row 0: denomination_value: Ensure this value is greater than or equal to 0.",
        ),
        ({"denomination_value": "NaN"}, "row 0: denomination_value: A valid number is required."),
        ({"denomination_value": True}, "row 0: denomination_value: Must be a JSON number."),
        ({"qty": -1}, "row 0: qty: Ensure this value is greater than or equal to 0."),
        ({"qty": 10**12}, "row 0: qty: Ensure this value is less than or equal to 100000000."),
        ({"qty": 1.5}, "row 0: qty: Must be a JSON integer."),
        (
            {"key": "has space"},
            "row 0: key: Enter a valid “slug” consisting of letters, numbers, underscores or hyphens.",
        ),
        (
            {"valid_until": "31/12/2026"},
            "row 0: valid_until: Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
        ),
        ({"skus": "BIGCITY Seeds"}, "row 0: skus: Must be a JSON array."),
        (
            {"skus": [{"code": "A", "product_name": "A", "pack_size": 1200}]},
            "row 0: skus[0].pack_size: Must be a JSON string.",
        ),
    ],
)
def test_field_errors_name_the_row_and_field(tenant, overrides, expected):
    row = {**catalog_row("a"), **overrides}
    assert _errors(tenant.company, [row]) == [expected]


CONTROL = "Must not contain a tab, a line break or another control character."


def test_sku_fields_with_a_tab_a_line_break_or_a_control_character_are_refused(tenant):
    # GET /v1/bigcity/rewards joins a SKU's fields with tabs and SKUs with newlines.
    catalog_import(company=tenant.company, rows=[catalog_row("kept")])
    before = _snapshot(tenant.company)
    rows = [
        catalog_row("kept", name="Changed"),  # valid, but must not be written
        catalog_row(
            "bad",
            skus=[
                {"code": "A\tB", "product_name": "Seeds\nOats"},
                {"code": "C", "product_name": "C", "variant": "Red\rBlue", "pack_size": "1\x1fkg"},
                {
                    "code": "D\x7f",
                    "product_name": "D\u2028E",
                    "variant": "a\x85b",
                    "pack_size": "1",
                },
            ],
        ),
    ]

    errors = _errors(tenant.company, rows)

    assert errors == [
        f"row 1: skus[0].code: {CONTROL}",
        f"row 1: skus[0].product_name: {CONTROL}",
        f"row 1: skus[1].variant: {CONTROL}",
        f"row 1: skus[1].pack_size: {CONTROL}",
        f"row 1: skus[2].code: {CONTROL}",
        f"row 1: skus[2].product_name: {CONTROL}",
        f"row 1: skus[2].variant: {CONTROL}",
    ]
    assert _snapshot(tenant.company) == before


def test_sku_fields_keep_spaces_and_other_text_and_are_trimmed(tenant):
    sku = {"code": " Seeds 1 ", "product_name": "Graines \u2013 Seeds ❀", "variant": "\tMix\n"}
    catalog_import(company=tenant.company, rows=[catalog_row("a", skus=[sku])])

    stored = Sku.objects.get(company=tenant.company)
    assert (stored.code, stored.product_name, stored.variant) == (
        "Seeds 1",
        "Graines \u2013 Seeds ❀",
        "Mix",
    )


def test_a_window_must_end_after_it_starts(tenant):
    row = catalog_row("a", starts_at="2026-01-02T00:00:00Z", ends_at="2026-01-01T00:00:00Z")

    assert _errors(tenant.company, [row]) == ["row 0: ends_at: Must be after starts_at"]


def test_a_limited_reward_at_zero_cannot_be_active(tenant):
    errors = _errors(tenant.company, [catalog_row("a", qty=0, status=1)])

    assert errors == [
        "row 0: status: A reward with no stock left cannot be active "
        "(empty qty means unlimited stock)"
    ]


def test_the_file_must_be_an_array(tenant):
    assert _errors(tenant.company, {"key": "a"}) == ["the catalog must be a JSON array of objects"]


def test_a_key_twice_in_a_file_is_reported(tenant):
    errors = _errors(
        tenant.company,
        [catalog_row("a"), catalog_row("b"), catalog_row("a", skus=[])],
    )

    assert errors == ["row 2: key: 'a' is also row 0"]


def test_a_duplicate_sku_code_across_rewards_in_the_file_is_reported(tenant):
    rows = [
        catalog_row("a", skus=[{"code": "BIGCITY Seeds", "product_name": "Seeds"}]),
        catalog_row(
            "b",
            skus=[
                {"code": "X", "product_name": "X"},
                {"code": " bigcity seeds", "product_name": "S"},
            ],
        ),
    ]

    errors = _errors(tenant.company, rows)

    assert errors == ["row 1: skus[1].code: 'bigcity seeds' is also a SKU in row 0"]
    assert not Reward.objects.exists()


def test_a_duplicate_sku_code_within_a_reward_is_reported(tenant):
    rows = [
        catalog_row(
            "a", skus=[{"code": "X", "product_name": "X"}, {"code": "x", "product_name": "X"}]
        )
    ]

    assert _errors(tenant.company, rows) == ["row 0: skus[1].code: 'x' is also a SKU in this row"]


def test_a_sku_code_held_by_a_reward_outside_the_file_is_reported(tenant):
    SkuFactory(reward=RewardFactory(company=tenant.company, key="kept"), code="BIGCITY Seeds")

    errors = _errors(
        tenant.company, [catalog_row("a", skus=[{"code": "bigcity seeds", "product_name": "S"}])]
    )

    assert errors == ["row 0: skus[0].code: 'bigcity seeds' is already a SKU of reward 'kept'"]


def test_another_companys_sku_codes_and_keys_do_not_collide(tenant, other_tenant):
    SkuFactory(reward=RewardFactory(company=other_tenant.company, key="a"), code="SAME")

    result = catalog_import(
        company=tenant.company,
        rows=[catalog_row("a", skus=[{"code": "SAME", "product_name": "S"}])],
    )

    assert result.created == ["a"]
    assert Reward.objects.get(company=other_tenant.company, key="a").skus.get().code == "SAME"


# --- stock ---------------------------------------------------------------------------------


def _movements(reward: Reward) -> list[tuple]:
    return list(reward.movements.order_by("id").values_list("delta", "qty_after", "reason", "note"))


def _ledger_sum(reward: Reward) -> int:
    return reward.movements.aggregate(total=Sum("delta"))["total"] or 0


def test_a_new_limited_reward_gets_an_initial_movement(tenant):
    catalog_import(company=tenant.company, rows=[catalog_row("a", qty=40), catalog_row("b")])

    limited, unlimited = Reward.objects.get(key="a"), Reward.objects.get(key="b")
    assert _movements(limited) == [(40, 40, "restock", "catalog import")]
    assert _movements(unlimited) == []


def test_stock_changes_by_import_write_movements(tenant):
    catalog_import(company=tenant.company, rows=[catalog_row("a", qty=40)])
    reward = Reward.objects.get(key="a")
    reward_stock_adjust(reward=reward, delta=-5, note="damaged")  # 35 left

    catalog_import(company=tenant.company, rows=[catalog_row("a", qty=50)])
    catalog_import(company=tenant.company, rows=[catalog_row("a", qty=20)])
    catalog_import(company=tenant.company, rows=[catalog_row("a", qty=20)])  # no change

    reward.refresh_from_db()
    assert reward.qty == 20
    assert _movements(reward) == [
        (40, 40, "restock", "catalog import"),
        (-5, 35, "adjustment", "damaged"),
        (15, 50, "restock", "catalog import"),
        (-30, 20, "adjustment", "catalog import"),
    ]
    assert _ledger_sum(reward) == reward.qty


def test_switching_between_limited_and_unlimited_keeps_the_ledger_balanced(tenant):
    catalog_import(company=tenant.company, rows=[catalog_row("a", qty=10)])
    reward = Reward.objects.get(key="a")

    catalog_import(company=tenant.company, rows=[catalog_row("a", qty=None)])
    reward.refresh_from_db()
    assert reward.qty is None and _ledger_sum(reward) == 0

    catalog_import(company=tenant.company, rows=[catalog_row("a", qty=7)])
    reward.refresh_from_db()
    assert reward.qty == 7 and _ledger_sum(reward) == 7
    assert _movements(reward)[1:] == [
        (-10, 0, "adjustment", "catalog import: stock now unlimited"),
        (7, 7, "restock", "catalog import"),
    ]


def test_a_pool_reward_cannot_hold_more_stock_than_its_codes(tenant):
    errors = _errors(tenant.company, [catalog_row("p", fulfilment="pool", qty=5, status=1)])
    assert errors == [
        "row 0: qty: A pool reward cannot hold more stock than its unassigned codes (0); "
        "load codes to raise it"
    ]
    errors = _errors(tenant.company, [catalog_row("p", fulfilment="pool", qty=None)])
    assert errors == [
        "row 0: qty: A pool reward's stock is its codes: give a number, not unlimited"
    ]


def test_a_pool_reward_may_be_set_up_to_its_codes(tenant):
    catalog_import(
        company=tenant.company, rows=[catalog_row("p", fulfilment="pool", qty=0, status=0)]
    )
    reward = Reward.objects.get(key="p")
    PoolCode.objects.bulk_create(PoolCode(reward=reward, code=f"C{i}") for i in range(3))

    catalog_import(company=tenant.company, rows=[catalog_row("p", fulfilment="pool", qty=3)])

    reward.refresh_from_db()
    assert (reward.qty, reward.status) == (3, 1)


def test_dry_run_writes_nothing(tenant):
    result = catalog_import(company=tenant.company, rows=[catalog_row("a", qty=3)], dry_run=True)

    assert result.created == ["a"]
    assert not Reward.objects.exists() and not Brand.objects.exists()
    assert not StockMovement.objects.exists()


# --- seed_demo and the command -------------------------------------------------------------


def test_seed_demo_loads_the_four_bigcity_rewards_and_is_idempotent():
    call_command("seed_demo", stdout=io.StringIO())
    company = Company.objects.get(client_id="bigcity-demo")
    before = _snapshot(company)

    call_command("seed_demo", stdout=io.StringIO())

    assert _snapshot(company) == before
    rewards = Reward.objects.filter(company=company).order_by("id")
    assert [(r.denomination_value, r.qty, r.status) for r in rewards] == [
        (Decimal("10"), None, 1),
        (Decimal("30"), None, 1),
        (Decimal("40"), None, 1),
        (Decimal("50"), None, 1),
    ]
    assert list(
        Sku.objects.filter(company=company).order_by("reward_id").values_list("code", flat=True)
    ) == [
        "BIGCITY Seeds",
        "BIGCITY Oats - All Variants",
        "BIGCITY Herbs 800",
        "BIGCITY 5 Grain",
    ]


def _write(tmp_path, rows: object, name: str = "catalog.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(rows), encoding="utf-8")
    return str(path)


def test_import_catalog_command_prints_a_summary(tenant, tmp_path):
    catalog_import(company=tenant.company, rows=[catalog_row("a")])
    path = _write(tmp_path, [catalog_row("a", name="Changed"), catalog_row("b")])
    out = io.StringIO()

    call_command("import_catalog", path, "--company", tenant.company.client_id, stdout=out)

    assert (
        out.getvalue().strip() == f"{tenant.company.client_id}: 1 created, 1 updated, 0 unchanged"
    )
    assert Reward.objects.get(key="a").name == "Changed"


def test_import_catalog_command_fails_with_the_row_errors(tenant, tmp_path):
    path = _write(tmp_path, [catalog_row("a"), catalog_row("b", denomination_value="ten")])

    with pytest.raises(CommandError) as caught:
        call_command("import_catalog", path, "--company", tenant.company.client_id)

    assert "row 1: denomination_value: A valid number is required." in str(caught.value)
    assert not Reward.objects.exists()


def test_import_catalog_command_exits_non_zero_from_the_shell(
    tenant, tmp_path, capsys, monkeypatch
):
    # run_from_argv closes every connection when it ends, which would end the test's transaction.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    path = _write(tmp_path, [catalog_row("a"), catalog_row("b", status="1")])
    argv = ["manage.py", "import_catalog", path, "--company", tenant.company.client_id]

    with pytest.raises(SystemExit) as caught:
        ManagementUtility(argv).execute()

    assert caught.value.code != 0
    assert "row 1: status: Must be a JSON integer." in capsys.readouterr().err
    assert not Reward.objects.exists()


def test_import_catalog_command_refuses_an_unknown_company(tmp_path, db):
    with pytest.raises(CommandError, match="No company with client id 'nope'"):
        call_command("import_catalog", _write(tmp_path, []), "--company", "nope")


@pytest.mark.parametrize("content", ["{not json", "\xff\xfe"])
def test_import_catalog_command_refuses_a_file_that_is_not_json(tenant, tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_bytes(content.encode("latin-1"))

    with pytest.raises(CommandError, match="is not valid JSON"):
        call_command("import_catalog", str(path), "--company", tenant.company.client_id)
