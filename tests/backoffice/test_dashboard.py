from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from orders.dashboard import DayCount, bar_chart, dashboard_daily_counts
from orders.models import Voucher
from tests.factories import RewardFactory

from .conftest import place_order

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("admin-dashboard")


def days_ago(n: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=n)


@pytest.fixture
def activity(tenant, customer, seeds, oats):
    today = timezone.localdate()
    place_order(customer, ("BIGCITY Seeds", 2))
    place_order(customer, ("BIGCITY Seeds", 1), ("BIGCITY Oats", 1))
    place_order(customer, ("BIGCITY Oats", 1), created_at=days_ago(3))
    place_order(customer, ("BIGCITY Seeds", 1), created_at=days_ago(45))  # outside the window
    failed = place_order(customer, ("BIGCITY Oats", 1)).vouchers.get()
    Voucher.objects.filter(pk=failed.pk).update(
        status=Voucher.Status.FAILED, failure_reason="vendor said no"
    )
    low = RewardFactory(company=tenant.company, name="Almost gone", qty=2, qty_trigger_limit=5)
    RewardFactory(company=tenant.company, name="Plenty left", qty=50, qty_trigger_limit=5)
    return {"today": today, "failed": failed, "low": low}


def test_daily_counts_cover_thirty_days_with_zeros(activity):
    days = dashboard_daily_counts(today=activity["today"])
    assert len(days) == 30 and days[-1].day == activity["today"]
    assert (days[-1].orders, days[-1].vouchers) == (3, 5)
    assert (days[-4].orders, days[-4].vouchers) == (1, 1)
    assert sum(d.orders for d in days) == 4  # the 45-day-old order is outside


def test_dashboard_shows_the_chart_top_rewards_low_stock_and_failures(
    finance_client, activity, seeds, oats, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        response = finance_client.get(DASHBOARD)
    assert response.status_code == 200
    html = response.content.decode()
    context = response.context

    assert (context["total_orders"], context["total_vouchers"]) == (4, 6)
    assert html.count("<rect ") == 60  # two bars a day
    assert [(t.reward, t.vouchers) for t in context["top_rewards"]] == [(seeds, 3), (oats, 3)]
    assert [r.name for r in context["low_stock"]] == ["Almost gone"]
    assert context["failed_count"] == 1 and "vendor said no" in html
    assert "https://" not in html.split("<svg", 1)[1].split("</svg>", 1)[0]  # nothing fetched


def test_program_managers_see_it_and_the_index_links_to_it(pm_client, activity):
    assert pm_client.get(DASHBOARD).status_code == 200
    assert DASHBOARD in pm_client.get(reverse("admin:index")).content.decode()


def test_the_dashboard_needs_a_staff_login(client, db):
    response = client.get(DASHBOARD)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_chart_scale_rounds_up():
    day = dt.date(2026, 3, 1)

    chart = bar_chart([DayCount(day=day, orders=3, vouchers=130)])
    assert chart["grid"][-1]["value"] == "200"
    tallest = max(bar["h"] for bar in chart["bars"])
    assert tallest == pytest.approx((chart["axis_y"] - 10) * 130 / 200, abs=0.1)
