"""Finance exports: the rows, the admin's CSV/XLSX of the filtered order list, and the
`export_orders` command."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Sum
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from loyalty import services as points
from loyalty.models import PointsLedgerEntry
from orders.exports import HEADER, issues_for_export, order_export_rows, orders_for_export
from orders.loyalty_services import IssueItem, reward_issue_bulk, reward_issue_voucher_settled
from orders.models import Order, RewardIssue, Voucher
from rewards.models import Reward, Vendor
from tests.factories import BrandFactory, CustomerFactory, RewardFactory, reward_with_sku

from .conftest import at, expected_rows, place_order

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:orders_order_changelist")
EXPORT_CSV = reverse("admin:orders_order_export", args=["csv"])
EXPORT_XLSX = reverse("admin:orders_order_export", args=["xlsx"])


def read_csv(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(HEADER)
    return rows[1:]


@pytest.fixture
def shop(tenant, other_tenant, customer, seeds, oats):
    """Orders of two companies on three days; one order earned no voucher."""
    other_customer = CustomerFactory(company=other_tenant.company)
    reward_with_sku(other_tenant.company, "BIGCITY Seeds", denomination_value=Decimal("10"))
    return {
        "early": place_order(customer, ("BIGCITY Seeds", 1), created_at=at("2026-03-01")),
        "mixed": place_order(
            customer, ("BIGCITY Seeds", 2), ("BIGCITY Oats", 1), created_at=at("2026-03-02")
        ),
        "none": place_order(customer, ("NOT A SKU", 1), created_at=at("2026-03-02", 18)),
        "late": place_order(customer, ("BIGCITY Oats", 1), created_at=at("2026-03-04")),
        "other": place_order(other_customer, ("BIGCITY Seeds", 1), created_at=at("2026-03-02")),
    }


def test_one_row_per_voucher_and_one_for_an_order_without_voucher(shop):
    orders = Order.objects.filter(pk__in=[shop["mixed"].pk, shop["none"].pk])
    rows = list(order_export_rows(orders=orders, show_codes=True))

    assert len(rows) == 4  # three vouchers, and the order that earned none
    mixed = shop["mixed"]
    # The order's points on its first row only: the column adds up to what was earned.
    assert [r[HEADER.index("points_earned")] for r in rows[:3]] == [mixed.points_earned, 0, 0]
    assert mixed.points_earned == 15
    assert [r[HEADER.index("sku")] for r in rows[:3]] == [
        "BIGCITY Seeds",
        "BIGCITY Seeds",
        "BIGCITY Oats",
    ]
    empty = rows[3]
    assert empty[0] == shop["none"].public_id
    assert empty[HEADER.index("voucher_code")] == "" and empty[HEADER.index("sku")] == ""
    assert empty[HEADER.index("points_earned")] == shop["none"].points_earned == 5


def test_admin_csv_exports_the_filtered_list_streamed_with_masked_codes(
    finance_client, shop, tenant
):
    params = {
        "company__id__exact": tenant.company.pk,
        "created_at__from": "2026-03-02",
        "created_at__to": "2026-03-02",  # inclusive: the whole day
    }
    listed = finance_client.get(CHANGELIST, params).context["cl"].result_list
    assert {o.pk for o in listed} == {shop["mixed"].pk, shop["none"].pk}

    response = finance_client.get(EXPORT_CSV, params)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="orders-')
    assert read_csv(response) == expected_rows([shop["mixed"], shop["none"]], show_codes=False)


def test_admin_csv_follows_status_and_search_too(super_client, shop, customer):
    Order.objects.filter(pk=shop["late"].pk).update(status=Order.Status.FAILED)
    rows = read_csv(super_client.get(EXPORT_CSV, {"status__exact": "failed"}))
    shop["late"].refresh_from_db()
    assert rows == expected_rows([shop["late"]], show_codes=True)

    rows = read_csv(super_client.get(EXPORT_CSV, {"q": shop["early"].public_id}))
    assert rows == expected_rows([shop["early"]], show_codes=True)


def test_admin_xlsx_holds_the_same_rows(finance_client, shop, tenant):
    response = finance_client.get(EXPORT_XLSX, {"company__id__exact": tenant.company.pk})
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = workbook.worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][1] == "order_timestamp (UTC)"
    expected = expected_rows(
        [shop["early"], shop["mixed"], shop["none"], shop["late"]], show_codes=False
    )
    assert [row[0] for row in values[1:]] == [row[0] for row in expected]
    assert [row[HEADER.index("voucher_code")] or "" for row in values[1:]] == [
        row[HEADER.index("voucher_code")] for row in expected
    ]
    stamp = values[1][1]  # a real date-time cell, UTC; Excel keeps milliseconds
    expected_stamp = shop["early"].order_timestamp.astimezone(dt.UTC).replace(tzinfo=None)
    assert abs(stamp - expected_stamp) < dt.timedelta(milliseconds=1)


def test_export_action_exports_the_selected_orders(finance_client, shop):
    response = finance_client.post(
        CHANGELIST, {"action": "export_selected_csv", "_selected_action": [shop["late"].pk]}
    )
    assert read_csv(response) == expected_rows([shop["late"]], show_codes=False)


def test_an_invalid_date_in_the_filter_is_refused_not_exported(finance_client, shop):
    response = finance_client.get(EXPORT_CSV, {"created_at__from": "yesterday"})
    assert response.status_code == 302 and response["Location"].endswith("?e=1")


def test_a_range_to_the_last_day_of_the_calendar_has_no_upper_bound(finance_client, shop, tenant):
    params = {"company__id__exact": tenant.company.pk, "created_at__to": "9999-12-31"}
    listed = finance_client.get(CHANGELIST, params)
    assert listed.status_code == 200
    assert len(listed.context["cl"].result_list) == 4

    rows = read_csv(finance_client.get(EXPORT_CSV, params))
    assert {row[0] for row in rows} == {
        shop[k].public_id for k in ("early", "mixed", "none", "late")
    }
    command_rows = list(
        csv.reader(io.StringIO(run_export("--from", "2026-03-04", "--to", "9999-12-31")))
    )
    assert [row[0] for row in command_rows[1:]] == [shop["late"].public_id]


def test_text_a_spreadsheet_would_run_as_a_formula_is_defused(super_client, tenant, customer):
    reward_with_sku(tenant.company, "=HYPERLINK(1)")
    order = place_order(customer, ("=HYPERLINK(1)", 1))
    rows = read_csv(super_client.get(EXPORT_CSV))
    assert rows[0][HEADER.index("sku")] == "'=HYPERLINK(1)"
    assert order.line_items.get().sku == "=HYPERLINK(1)"  # the data itself is untouched


# --- the command ----------------------------------------------------------------------------


def run_export(*args: str, stdout=None) -> str:
    out = stdout or io.StringIO()
    call_command("export_orders", *args, stdout=out)
    return out.getvalue()


def test_command_writes_the_csv_of_a_date_range_and_company(shop, tenant, tmp_path):
    path = tmp_path / "orders.csv"
    message = run_export(
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-02",
        "--company",
        tenant.company.client_id,
        "--output",
        str(path),
    )
    expected = expected_rows([shop["early"], shop["mixed"], shop["none"]], show_codes=False)
    rows = list(csv.reader(io.StringIO(path.read_text())))
    assert rows == [list(HEADER), *expected]
    assert message.strip() == f"{len(expected)} rows written to {path}"


def test_command_shows_codes_only_when_asked(shop):
    masked = run_export("--from", "2026-03-04", "--to", "2026-03-04")
    whole = run_export("--from", "2026-03-04", "--to", "2026-03-04", "--show-codes")
    code = shop["late"].vouchers.get().code
    assert code not in masked and code[:4] + "…" in masked
    assert code in whole
    assert list(csv.reader(io.StringIO(whole)))[1:] == expected_rows(
        [shop["late"]], show_codes=True
    )


def test_command_writes_xlsx(shop, tmp_path):
    path = tmp_path / "orders.xlsx"
    run_export(
        "--from", "2026-03-01", "--to", "2026-03-31", "--format", "xlsx", "--output", str(path)
    )
    sheet = openpyxl.load_workbook(path).worksheets[0]
    assert sheet.max_row == 1 + 7  # header; 1 + 3 + 1 + 1 vouchers and the order with none


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_command_draws_a_progress_bar_only_on_a_terminal(shop, tmp_path):
    path = str(tmp_path / "orders.csv")
    on_terminal = run_export(
        "--from", "2026-03-01", "--to", "2026-03-31", "--output", path, stdout=FakeTerminal()
    )
    assert "[##############################] 100% 7/7 rows" in on_terminal
    piped = run_export("--from", "2026-03-01", "--to", "2026-03-31", "--output", path)
    assert "[" not in piped and "rows written" in piped


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-03-05", "--to", "2026-03-01"], "--to is before --from"),
        (["--from", "2026-03-01", "--to", "2026-03-05", "--company", "nobody"], "No company"),
        (["--from", "March", "--to", "2026-03-05"], "is not a date"),
    ],
)
def test_command_refuses_bad_arguments(db, args, message):
    with pytest.raises(CommandError, match=message):
        run_export(*args)


# --- reward issues (the loyalty issue call: vouchers paid with points, no order) -------------

COL = {name: index for index, name in enumerate(HEADER)}


def issue_rewards(customer, *rewards_and_quantities, store_code="STORE-7") -> RewardIssue:
    """One issue call for `customer`: one RewardIssue per reward, through the real service."""
    result = reward_issue_bulk(
        company=customer.company,
        customer=customer,
        items=[IssueItem(reward_id=r.pk, quantity=Decimal(q)) for r, q in rewards_and_quantities],
        scope=frozenset({customer.company.pk}),
        store_code=store_code,
    )
    assert result.http_status == 200, result.body
    return RewardIssue.objects.filter(customer=customer).order_by("-id")[0]


@pytest.fixture
def points_reward(tenant):
    return RewardFactory(
        company=tenant.company, brand=BrandFactory(company=tenant.company), points_cost=100
    )


@pytest.fixture
def rich_customer(customer):
    # An adjustment, not an earn: the ledger's earn rows stay those of the orders.
    points.points_adjust(customer=customer, points=5_000, reason="seed")
    customer.refresh_from_db()
    return customer


def today_range() -> dict:
    today = timezone.localdate()
    return {"date_from": today, "date_to": today}


def test_issue_vouchers_appear_with_their_points_spent(rich_customer, points_reward, tenant):
    issue = issue_rewards(rich_customer, (points_reward, 2))
    vouchers = list(issue.vouchers.order_by("id"))
    assert len(vouchers) == 2 and all(v.order_id is None for v in vouchers)

    rows = list(
        order_export_rows(
            orders=orders_for_export(**today_range()),
            issues=issues_for_export(**today_range()),
            show_codes=False,
        )
    )

    assert [tuple(r) for r in rows] == [
        (
            f"issue_{issue.pk}",
            issue.created_at,
            tenant.company.client_id,
            "STORE-7",
            rich_customer.mobile,
            "",
            points_reward.key,
            v.denomination_value,
            v.code[:4] + "…",
            "issued",
            "issued",
            0,
            100,
        )
        for v in vouchers
    ]
    # Before the fix the export read orders only: no row, and points_spent always 0.
    assert sum(r[COL["points_spent"]] for r in rows) == 200 == issue.points


def test_the_points_columns_add_up_to_the_ledger_for_the_period(
    rich_customer, points_reward, seeds, oats, tenant
):
    vendor = Vendor.objects.create(name="v", base_url="http://127.0.0.1:9")
    vendor_reward = RewardFactory(
        company=tenant.company,
        brand=points_reward.brand,
        fulfilment=Reward.Fulfilment.VENDOR,
        vendor=vendor,
        vendor_product_code="P",
        points_cost=40,
    )
    place_order(rich_customer, ("BIGCITY Seeds", 2), ("BIGCITY Oats", 1))
    place_order(rich_customer, ("NOT A SKU", 1))
    issue_rewards(rich_customer, (points_reward, 3))
    vendor_issue = issue_rewards(rich_customer, (vendor_reward, 3))
    # The vendor answers: one issued (points captured), one failed (released), one pending.
    issued, failed, _pending = vendor_issue.vouchers.order_by("id")
    with transaction.atomic():
        for voucher, status in ((issued, "issued"), (failed, "failed")):
            voucher.status = status
            voucher.code = f"V-{voucher.pk}" if status == "issued" else None
            voucher.save()
            reward_issue_voucher_settled(voucher=voucher)

    rows = list(
        order_export_rows(
            orders=orders_for_export(**today_range()),
            issues=issues_for_export(**today_range()),
            show_codes=True,
        )
    )

    ledger = PointsLedgerEntry.objects.filter(
        customer=rich_customer, created_at__date=timezone.localdate()
    )

    def total(*kinds: str) -> int:
        return ledger.filter(kind__in=kinds).aggregate(s=Sum("points"))["s"] or 0

    earned = sum(r[COL["points_earned"]] for r in rows)
    assert earned == total("earn") > 0
    settled = sum(
        r[COL["points_spent"]] for r in rows if r[COL["voucher_status"]] != Voucher.Status.PENDING
    )
    assert settled == -total("spend", "capture") == 3 * 100 + 40
    # The pending voucher's points are held, shown as what it costs.
    held = [r for r in rows if r[COL["voucher_status"]] == Voucher.Status.PENDING]
    assert [r[COL["points_spent"]] for r in held] == [40]
    assert sum(r[COL["points_spent"]] for r in held) == (
        ledger.filter(kind="hold").aggregate(s=Sum("held"))["s"]
        + ledger.filter(kind__in=["capture", "release"]).aggregate(s=Sum("held"))["s"]
    )
    assert {r[0] for r in rows if r[COL["voucher_status"]] == "failed"} == {
        f"issue_{vendor_issue.pk}"
    }


def test_issue_rows_follow_date_company_and_status(
    rich_customer, points_reward, other_tenant, tenant
):
    issue = issue_rewards(rich_customer, (points_reward, 1))
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    assert not issues_for_export(date_from=yesterday, date_to=yesterday).exists()
    assert list(issues_for_export(**today_range(), company=tenant.company)) == [issue]
    assert not issues_for_export(**today_range(), company=other_tenant.company).exists()
    assert list(issues_for_export(**today_range(), status="fulfilled")) == [issue]
    for status in ("pending", "failed", "partially_fulfilled"):
        assert not issues_for_export(**today_range(), status=status).exists()


def test_admin_export_of_the_order_list_includes_the_issues_its_filters_select(
    finance_client, rich_customer, points_reward, seeds, tenant, other_tenant
):
    order = place_order(rich_customer, ("BIGCITY Seeds", 1))
    issue = issue_rewards(rich_customer, (points_reward, 1))
    today = timezone.localdate().isoformat()

    rows = read_csv(
        finance_client.get(
            EXPORT_CSV,
            {
                "company__id__exact": tenant.company.pk,
                "created_at__from": today,
                "created_at__to": today,
                "status__exact": "fulfilled",
            },
        )
    )
    assert [r[0] for r in rows] == [order.public_id, f"issue_{issue.pk}"]
    issue_row = rows[1]
    assert issue_row[COL["store"]] == "STORE-7"
    assert issue_row[COL["sku"]] == "" and issue_row[COL["points_earned"]] == "0"
    assert issue_row[COL["points_spent"]] == "100"
    assert issue_row[COL["voucher_code"]].endswith("…")  # masked for finance

    def exported(params: dict) -> list[str]:
        return [r[0] for r in read_csv(finance_client.get(EXPORT_CSV, params))]

    assert exported({"company__id__exact": other_tenant.company.pk}) == []
    assert exported({"status__exact": "pending"}) == []
    assert exported({"created_at__to": "2020-01-01"}) == []
    assert exported({"q": order.public_id}) == [order.public_id]
    assert exported({"q": f"issue_{issue.pk}"}) == [f"issue_{issue.pk}"]
    assert exported({"q": rich_customer.mobile}) == [order.public_id, f"issue_{issue.pk}"]
    # Ticked orders are those orders only.
    response = finance_client.post(
        CHANGELIST, {"action": "export_selected_csv", "_selected_action": [order.pk]}
    )
    assert [r[0] for r in read_csv(response)] == [order.public_id]


def test_command_includes_issues_unless_told_not_to(rich_customer, points_reward, seeds):
    order = place_order(rich_customer, ("BIGCITY Seeds", 1))
    issue = issue_rewards(rich_customer, (points_reward, 1))
    today = timezone.localdate().isoformat()
    with_issues = list(csv.reader(io.StringIO(run_export("--from", today, "--to", today))))
    assert [r[0] for r in with_issues[1:]] == [order.public_id, f"issue_{issue.pk}"]
    assert with_issues[2][COL["points_spent"]] == "100"
    orders_only = list(
        csv.reader(io.StringIO(run_export("--from", today, "--to", today, "--no-issues")))
    )
    assert [r[0] for r in orders_only[1:]] == [order.public_id]


def test_command_progress_bar_counts_issue_rows(rich_customer, points_reward, tmp_path):
    issue_rewards(rich_customer, (points_reward, 2))
    today = timezone.localdate().isoformat()
    out = run_export(
        "--from", today, "--to", today, "--output", str(tmp_path / "x.csv"), stdout=FakeTerminal()
    )
    assert "100% 2/2 rows" in out
