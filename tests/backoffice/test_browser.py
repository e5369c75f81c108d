"""The back-office in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium,
installed by .ci/run; Playwright's own browser download is never used) against a live server.

Skipped, with the reason, only when /usr/bin/chromium is absent (a laptop without it); CI
installs it, so these run there. Screenshots go to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from rewards.models import StockMovement
from tests.factories import CustomerFactory, RewardFactory, reward_with_sku

from .conftest import PASSWORD, at, expected_rows, place_order

CHROMIUM = Path("/usr/bin/chromium")
# As the machine notes say: headless, no sandbox (root in CI), and nothing that phones home
# (the network is closed; without these Chromium keeps trying and failing to reach Google).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="browser tests need Debian's Chromium at /usr/bin/chromium "
        "(apt-get install chromium; .ci/run installs it)",
    ),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; Django would then refuse ORM
    # calls from the test body. They are plain synchronous calls here, so allow them.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(
        accept_downloads=True, base_url=live_server.url, viewport={"width": 1400, "height": 1000}
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def log_in(page, username: str) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")  # the login page redirects to the index once logged in


def test_program_manager_restocks_a_reward_and_sees_the_movement(page, pm_user, tenant):
    reward = RewardFactory(company=tenant.company, name="Seeds voucher", qty=2, qty_trigger_limit=5)
    log_in(page, pm_user.username)

    page.goto("/admin/rewards/reward/?stock=low")
    row = page.locator("#result_list tbody tr", has_text="Seeds voucher")
    assert "low" in row.locator(".low-stock").inner_text()
    row.locator("th a").click()
    page.click("text=Adjust stock")
    page.fill("#id_delta", "10")
    page.select_option("#id_reason", "restock")
    page.fill("#id_note", "delivery 42 from the warehouse")
    page.click("input[type=submit][value='Adjust stock']")

    assert "Stock of" in page.locator(".messagelist").inner_text()
    history = page.locator(".field-recent_movements")
    assert "delivery 42 from the warehouse" in history.inner_text()
    assert "+10" in history.inner_text() and pm_user.username in history.inner_text()
    reward.refresh_from_db()
    assert reward.qty == 12
    assert StockMovement.objects.get(reward=reward, delta=10).actor == pm_user
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "reward-after-restock.png"), full_page=True)


def test_finance_filters_orders_and_downloads_the_csv(
    page, finance_user, tenant, other_tenant, customer, seeds, oats, tmp_path
):
    wanted = [
        place_order(customer, ("BIGCITY Seeds", 2), created_at=at("2026-03-02")),
        place_order(customer, ("BIGCITY Oats", 1), created_at=at("2026-03-03")),
    ]
    place_order(customer, ("BIGCITY Seeds", 1), created_at=at("2026-03-09"))  # after the range
    reward_with_sku(other_tenant.company, "BIGCITY Seeds", denomination_value=Decimal("10"))
    other_customer = CustomerFactory(company=other_tenant.company)
    place_order(other_customer, ("BIGCITY Seeds", 1), created_at=at("2026-03-02"))  # other company
    log_in(page, finance_user.username)

    page.goto("/admin/orders/order/")
    page.locator("#changelist-filter").get_by_role("link", name=str(tenant.company)).click()
    page.wait_for_url(f"**company__id__exact={tenant.company.pk}")
    page.fill("input[name=created_at__from]", "2026-03-01")
    page.fill("input[name=created_at__to]", "2026-03-03")
    page.click("input[type=submit][value='Apply dates']")
    page.wait_for_url("**created_at__to=2026-03-03")
    assert f"company__id__exact={tenant.company.pk}" in page.url  # the range kept the filter
    listed = page.locator("#result_list tbody tr").all_inner_texts()
    assert sorted(text.split()[0] for text in listed) == sorted(o.public_id for o in wanted)

    with page.expect_download() as download:
        page.click("#export-csv")
    path = tmp_path / "orders.csv"
    download.value.save_as(path)
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))[1:]
    assert rows == expected_rows(wanted, show_codes=False)


def test_dashboard_screenshots(page, pm_user, finance_user, tenant, customer, seeds, oats):
    now = dt.datetime.now(dt.UTC)
    for days_ago, lines in [(0, 3), (1, 1), (2, 4), (5, 2), (9, 6), (14, 1), (20, 3), (27, 2)]:
        for _ in range(lines):
            place_order(
                customer,
                ("BIGCITY Seeds", 1 + days_ago % 3),
                ("BIGCITY Oats", 1),
                created_at=now - dt.timedelta(days=days_ago),
            )
    RewardFactory(company=tenant.company, name="Almost gone", qty=1, qty_trigger_limit=10)
    ARTIFACTS.mkdir(exist_ok=True)

    for user in (finance_user, pm_user):
        log_in(page, user.username)
        page.click("#dashboard-link a")
        page.wait_for_selector("#daily-chart svg.dash-chart")
        assert page.locator("svg.dash-chart rect.orders").count() == 30
        assert page.locator("#kpi-orders").inner_text() == "22"
        assert "Almost gone" in page.locator("#low-stock").inner_text()
        page.screenshot(path=str(ARTIFACTS / f"dashboard-{user.username}.png"), full_page=True)
        page.context.clear_cookies()
    assert (ARTIFACTS / "dashboard-finance.png").stat().st_size > 10_000
