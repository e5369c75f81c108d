"""Catalog and stock in the back-office, as a program manager: the rewards list, stock
adjustments and their history, low-stock alerts, catalog import and export."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from rewards.models import LowStockAlert, Reward, Sku, StockMovement
from tests.factories import BrandFactory, CompanyFactory, RewardFactory, SkuFactory
from tests.rewards.conftest import catalog_row

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:rewards_reward_changelist")
IMPORT = reverse("admin:rewards_reward_import")
EXPORT = reverse("admin:rewards_reward_export")


def listed(client, **params) -> list[Reward]:
    response = client.get(CHANGELIST, params)
    assert response.status_code == 200
    return sorted(response.context["cl"].result_list, key=lambda r: r.pk)


def test_rewards_list_marks_low_stock(pm_client, tenant):
    low = RewardFactory(company=tenant.company, name="Low one", qty=3, qty_trigger_limit=5)
    out = RewardFactory(
        company=tenant.company, name="Out one", qty=0, qty_trigger_limit=0, status=0
    )
    RewardFactory(company=tenant.company, name="Plenty", qty=50, qty_trigger_limit=5)
    RewardFactory(company=tenant.company, name="Unlimited")

    html = pm_client.get(CHANGELIST).content.decode()
    assert html.count('class="low-stock"') == 2
    for column in ("brand", "denomination", "stock", "low stock", "qty trigger limit", "status"):
        assert column.lower() in html.lower()
    assert listed(pm_client, stock="low") == [low, out]


def test_rewards_list_filters_by_brand_status_and_fulfilment_and_searches_by_sku(pm_client, tenant):
    brand = BrandFactory(company=tenant.company, name="Acme")
    acme = RewardFactory(company=tenant.company, brand=brand, fulfilment="pool", qty=0, status=0)
    other = RewardFactory(company=tenant.company)
    SkuFactory(reward=other, code="OATS-500G")

    assert listed(pm_client, brand__id__exact=brand.pk) == [acme]
    assert listed(pm_client, status__exact=0) == [acme]
    assert listed(pm_client, fulfilment__exact="pool") == [acme]
    assert listed(pm_client, q="oats-500g") == [other]
    assert listed(pm_client, q=acme.name) == [acme]
    # The brand filter offers only brands that have rewards.
    assert "Acme" in pm_client.get(CHANGELIST).content.decode()


def test_bulk_deactivate_and_activate(pm_client, tenant):
    rewards = RewardFactory.create_batch(2, company=tenant.company, qty=5)
    ids = [r.pk for r in rewards]
    pm_client.post(CHANGELIST, {"action": "deactivate", "_selected_action": ids})
    assert set(Reward.objects.filter(pk__in=ids).values_list("status", flat=True)) == {0}
    pm_client.post(CHANGELIST, {"action": "activate", "_selected_action": ids})
    assert set(Reward.objects.filter(pk__in=ids).values_list("status", flat=True)) == {1}


def test_a_restock_shows_in_the_rewards_movement_history(pm_client, pm_user, tenant):
    reward = RewardFactory(company=tenant.company, qty=1, qty_trigger_limit=5)
    pm_client.post(
        reverse("admin:rewards_reward_adjust_stock", args=[reward.pk]),
        {"delta": 24, "reason": "restock", "note": "pallet from the warehouse"},
    )
    page = pm_client.get(reverse("admin:rewards_reward_change", args=[reward.pk]))
    html = page.content.decode()
    assert "pallet from the warehouse" in html and "+24" in html and pm_user.username in html
    assert StockMovement.objects.filter(reward=reward, actor=pm_user, delta=24).count() == 1


def test_low_stock_alerts_are_listed_with_their_state_read_only(pm_client, tenant):
    reward = RewardFactory(company=tenant.company, name="Seeds", qty=2, qty_trigger_limit=5)
    LowStockAlert.objects.create(company=tenant.company, reward=reward, qty_at_alert=2, threshold=5)
    resolved = LowStockAlert.objects.create(
        company=tenant.company, reward=reward, qty_at_alert=1, threshold=5, state="resolved"
    )
    url = reverse("admin:rewards_lowstockalert_changelist")
    html = pm_client.get(url).content.decode()
    assert "Open" in html and "Resolved (restocked)" in html
    assert len(pm_client.get(url, {"state__exact": "open"}).context["cl"].result_list) == 1
    assert pm_client.get(reverse("admin:rewards_lowstockalert_add")).status_code == 403
    change = pm_client.get(reverse("admin:rewards_lowstockalert_change", args=[resolved.pk]))
    assert 'name="_save"' not in change.content.decode()


def upload(rows, name: str = "catalog.json") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, json.dumps(rows).encode(), content_type="application/json")


def test_catalog_import_from_the_admin_loads_the_file(pm_client, pm_user, tenant):
    rows = [catalog_row("seeds-10", qty=40), catalog_row("oats-30")]
    response = pm_client.post(IMPORT, {"company": tenant.company.pk, "file": upload(rows)})

    assert response.status_code == 302
    assert set(Reward.objects.filter(company=tenant.company).values_list("key", flat=True)) == {
        "seeds-10",
        "oats-30",
    }
    movement = StockMovement.objects.get(reward__key="seeds-10")
    assert (movement.delta, movement.actor) == (40, pm_user)
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == [
        f"Catalog imported: {tenant.company.client_id}: 2 created, 0 updated, 0 unchanged."
    ]


def test_a_failed_import_changes_nothing_and_names_the_wrong_rows(pm_client, tenant):
    RewardFactory(company=tenant.company, key="kept", name="Kept as it was")
    before = list(Reward.objects.values_list("key", "name", "qty"))
    rows = [
        catalog_row("kept", name="Would be renamed"),
        catalog_row("bad", denomination_value="ten"),
        catalog_row("worse", qyt=5),
    ]
    response = pm_client.post(IMPORT, {"company": tenant.company.pk, "file": upload(rows)})

    assert response.status_code == 200
    assert response.context["row_errors"] == [
        "row 1: denomination_value: A valid number is required.",
        "row 2: qyt: Unknown field",
    ]
    html = response.content.decode()
    assert "nothing was loaded" in html and "row 1: denomination_value" in html
    assert list(Reward.objects.values_list("key", "name", "qty")) == before


def test_a_dry_run_import_writes_nothing(pm_client, tenant):
    response = pm_client.post(
        IMPORT, {"company": tenant.company.pk, "file": upload([catalog_row("a")]), "dry_run": "on"}
    )
    assert response.status_code == 302
    assert not Reward.objects.exists()


def test_an_upload_that_is_not_json_is_refused(pm_client, tenant):
    bad = SimpleUploadedFile("catalog.json", b"[{not json", content_type="application/json")
    response = pm_client.post(IMPORT, {"company": tenant.company.pk, "file": bad})
    assert response.status_code == 200
    assert "not valid JSON" in response.content.decode()


def test_exported_catalog_imports_back_unchanged_and_into_another_company(
    pm_client, tenant, other_tenant, tmp_path
):
    def file_of(rows) -> str:
        path = tmp_path / f"catalog-{len(list(tmp_path.iterdir()))}.json"
        path.write_text(json.dumps(rows))
        return str(path)

    rows = [
        catalog_row(
            "seeds-10",
            qty=40,
            qty_trigger_limit=5,
            points_cost=100,
            description="Seeds, 1200 g",
            validity_days=365,
            valid_until="2030-12-31",
            starts_at="2026-01-01T00:00:00Z",
            ends_at="2031-01-01T00:00:00Z",
            skus=[
                {
                    "code": "SEEDS-1",
                    "product_name": "Seeds",
                    "variant": "Salted",
                    "pack_size": "1200",
                },
                {"code": "SEEDS-2", "product_name": "Seeds"},
            ],
        ),
        catalog_row("oats-30", denomination_value="30.5", status=0, qty=0, skus=[]),
    ]
    call_command(
        "import_catalog", file_of(rows), company=tenant.company.client_id, stdout=StringIO()
    )
    RewardFactory(company=other_tenant.company)  # not in the filtered list, not in the file

    response = pm_client.get(EXPORT, {"company__id__exact": tenant.company.pk})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith(
        f'attachment; filename="catalog-{tenant.company.client_id}-'
    )
    exported = json.loads(response.content)
    assert [row["key"] for row in exported] == ["seeds-10", "oats-30"]
    assert exported[0]["qty"] == 40 and exported[0]["skus"][0]["variant"] == "Salted"

    # The same company: nothing differs, so nothing changes.
    out = StringIO()
    call_command("import_catalog", file_of(exported), company=tenant.company.client_id, stdout=out)
    assert "0 created, 0 updated, 2 unchanged" in out.getvalue()

    # Another company: the same catalog, row for row.
    fresh = CompanyFactory()
    call_command("import_catalog", file_of(exported), company=fresh.client_id, stdout=StringIO())
    again = json.loads(pm_client.get(EXPORT, {"company__id__exact": fresh.pk}).content)
    assert again == exported
    assert Sku.objects.filter(company=fresh).count() == 2


def test_export_of_several_companies_asks_for_one(pm_client, tenant, other_tenant):
    RewardFactory(company=tenant.company)
    RewardFactory(company=other_tenant.company)
    response = pm_client.get(EXPORT, follow=True)
    assert response.redirect_chain[-1][0] == CHANGELIST
    assert "filter the list by company first" in response.content.decode()


def test_export_action_exports_the_selected_rewards(pm_client, tenant):
    chosen, _ = RewardFactory.create_batch(2, company=tenant.company)
    response = pm_client.post(
        CHANGELIST, {"action": "export_catalog", "_selected_action": [chosen.pk]}
    )
    assert [row["key"] for row in json.loads(response.content)] == [chosen.key]
