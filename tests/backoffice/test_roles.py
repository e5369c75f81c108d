"""The two back-office roles: what each can open and change, and what it cannot."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse

from orders.models import RewardIssue, Voucher
from rewards.models import Reward, StockMovement
from tests.factories import PoolCodeFactory, RewardFactory

from .conftest import FINANCE, PROGRAM_MANAGERS, client_for, make_staff, place_order

pytestmark = pytest.mark.django_db


def perms_of(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}


def test_the_migration_creates_both_groups_with_exactly_their_permissions():
    # Not the `roles` fixture: these are the rows the data migration wrote.
    assert perms_of(PROGRAM_MANAGERS) == {
        "rewards.view_brand",
        "rewards.add_brand",
        "rewards.change_brand",
        "rewards.view_reward",
        "rewards.add_reward",
        "rewards.change_reward",
        "rewards.view_sku",
        "rewards.add_sku",
        "rewards.change_sku",
        "rewards.delete_sku",
        "rewards.view_stockmovement",
        "rewards.add_stockmovement",
        "rewards.view_poolcode",
        "rewards.add_poolcode",
        "rewards.view_vendor",
        "rewards.add_vendor",
        "rewards.change_vendor",
        "rewards.view_lowstockalert",
        "customers.view_customer",
        "orders.view_dashboard",
    }
    assert perms_of(FINANCE) == {
        "orders.view_order",
        "orders.view_lineitem",
        "orders.view_voucher",
        "orders.view_rewardissue",
        "orders.export_orders",
        "orders.view_dashboard",
        "loyalty.view_pointsledgerentry",
    }


def status(client, url: str, method: str = "get", **data) -> int:
    return getattr(client, method)(url, data).status_code


def test_program_manager_works_the_catalog_and_reads_customers(pm_client, tenant, customer):
    reward = RewardFactory(company=tenant.company, qty=5, fulfilment=Reward.Fulfilment.POOL)
    PoolCodeFactory.create_batch(5, reward=reward)
    can_open = [
        reverse("admin:index"),
        reverse("admin-dashboard"),
        reverse("admin:rewards_reward_changelist"),
        reverse("admin:rewards_reward_add"),
        reverse("admin:rewards_reward_change", args=[reward.pk]),
        reverse("admin:rewards_reward_adjust_stock", args=[reward.pk]),
        reverse("admin:rewards_reward_pool_codes", args=[reward.pk]),
        reverse("admin:rewards_reward_import"),
        reverse("admin:rewards_brand_add"),
        reverse("admin:rewards_vendor_changelist"),
        reverse("admin:rewards_vendor_add"),
        reverse("admin:rewards_stockmovement_changelist"),
        reverse("admin:rewards_lowstockalert_changelist"),
        reverse("admin:customers_customer_changelist"),
        reverse("admin:customers_customer_change", args=[customer.pk]),
    ]
    for url in can_open:
        assert status(pm_client, url) == 200, url

    cannot_open = [
        reverse("admin:orders_order_changelist"),
        reverse("admin:orders_voucher_changelist"),
        reverse("admin:orders_order_export", args=["csv"]),
        reverse("admin:loyalty_pointsledgerentry_changelist"),
        reverse("admin:companies_company_changelist"),
        reverse("admin:auth_user_changelist"),
        reverse("admin:customers_customer_add"),
        reverse("admin:rewards_reward_delete", args=[reward.pk]),
    ]
    for url in cannot_open:
        assert status(pm_client, url) == 403, url

    # Customers are read-only for them: the change page has nothing to save, a POST is refused.
    page = pm_client.get(reverse("admin:customers_customer_change", args=[customer.pk]))
    assert 'name="_save"' not in page.content.decode()
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    assert status(pm_client, url, "post", name="Renamed") == 403

    index = pm_client.get(reverse("admin:index")).content.decode()
    assert "/admin/rewards/reward/" in index and "/admin/orders/order/" not in index
    assert reverse("admin-dashboard") in index


def test_program_manager_restocks_and_the_movement_names_them(pm_client, pm_user, tenant):
    reward = RewardFactory(company=tenant.company, qty=2, qty_trigger_limit=5)
    response = pm_client.post(
        reverse("admin:rewards_reward_adjust_stock", args=[reward.pk]),
        {"delta": 10, "reason": "restock", "note": "delivery 42"},
    )
    assert response.status_code == 302
    reward.refresh_from_db()
    assert reward.qty == 12
    movement = StockMovement.objects.get(reward=reward, note="delivery 42")
    assert (movement.delta, movement.qty_after, movement.reason, movement.actor) == (
        10,
        12,
        "restock",
        pm_user,
    )


def test_finance_reads_orders_vouchers_and_ledgers_and_exports(
    finance_client, customer, seeds, tenant
):
    order = place_order(customer, ("BIGCITY Seeds", 1))
    voucher = order.vouchers.get()
    can_open = [
        reverse("admin:index"),
        reverse("admin-dashboard"),
        reverse("admin:orders_order_changelist"),
        reverse("admin:orders_order_change", args=[order.pk]),
        reverse("admin:orders_voucher_changelist"),
        reverse("admin:orders_voucher_change", args=[voucher.pk]),
        reverse("admin:orders_order_export", args=["csv"]),
        reverse("admin:orders_order_export", args=["xlsx"]),
        reverse("admin:loyalty_pointsledgerentry_changelist"),
    ]
    if admin.site.is_registered(RewardIssue):  # the loyalty issue call's admin
        can_open.append(reverse("admin:orders_rewardissue_changelist"))
    for url in can_open:
        assert status(finance_client, url) == 200, url

    cannot_open = [
        reverse("admin:rewards_reward_changelist"),
        reverse("admin:rewards_reward_add"),
        reverse("admin:rewards_reward_adjust_stock", args=[seeds.pk]),
        reverse("admin:rewards_reward_import"),
        reverse("admin:rewards_reward_export"),
        reverse("admin:rewards_brand_changelist"),
        reverse("admin:customers_customer_changelist"),
        reverse("admin:companies_company_changelist"),
        reverse("admin:orders_order_add"),
        reverse("admin:orders_order_delete", args=[order.pk]),
    ]
    for url in cannot_open:
        assert status(finance_client, url) == 403, url

    # Read-only: nothing to save on an order.
    page = finance_client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert 'name="_save"' not in page.content.decode()
    listing = finance_client.get(reverse("admin:orders_order_changelist")).content.decode()
    assert "Export CSV" in listing and "Export XLSX" in listing


def test_staff_without_a_role_sees_no_exports_and_no_dashboard(tenant, customer, seeds):
    place_order(customer, ("BIGCITY Seeds", 1))
    client = client_for(make_staff("viewer", perms=("orders.view_order",)))
    listing = client.get(reverse("admin:orders_order_changelist")).content.decode()
    assert "Export CSV" not in listing
    assert client.get(reverse("admin:orders_order_export", args=["csv"])).status_code == 403
    assert client.get(reverse("admin-dashboard")).status_code == 403
    assert reverse("admin-dashboard") not in client.get(reverse("admin:index")).content.decode()


def test_voucher_codes_are_masked_for_finance_and_whole_with_the_permission(roles, customer, seeds):
    order = place_order(customer, ("BIGCITY Seeds", 1))
    code = order.vouchers.get().code
    finance = client_for(make_staff("fin1", FINANCE))
    trusted = client_for(make_staff("fin2", FINANCE, perms=("orders.view_voucher_codes",)))
    voucher_page = reverse("admin:orders_voucher_change", args=[order.vouchers.get().pk])

    for url in (reverse("admin:orders_voucher_changelist"), voucher_page):
        assert code not in finance.get(url).content.decode()
        assert code in trusted.get(url).content.decode()
    # Searching by code is for those who may see codes anyway.
    search = reverse("admin:orders_voucher_changelist")
    assert finance.get(search, {"q": code}).context["cl"].result_count == 0
    assert trusted.get(search, {"q": code}).context["cl"].result_count == 1

    export = reverse("admin:orders_order_export", args=["csv"])
    assert code not in b"".join(finance.get(export).streaming_content).decode()
    assert code in b"".join(trusted.get(export).streaming_content).decode()


def test_superusers_see_everything(super_client, customer, seeds):
    order = place_order(customer, ("BIGCITY Seeds", 1))
    code = Voucher.objects.get(order=order).code
    for url in (
        reverse("admin:rewards_reward_changelist"),
        reverse("admin:orders_order_changelist"),
        reverse("admin:loyalty_pointsledgerentry_changelist"),
        reverse("admin-dashboard"),
    ):
        assert super_client.get(url).status_code == 200, url
    assert code in super_client.get(reverse("admin:orders_voucher_changelist")).content.decode()


@pytest.mark.django_db
def test_voucher_admin_filters_vouchers_pending_too_long(client, settings):
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from orders.models import Voucher
    from tests.factories import CustomerFactory, RewardFactory

    settings.VOUCHER_PENDING_SWEEP_AFTER = 60
    customer = CustomerFactory()
    reward = RewardFactory(company=customer.company)

    def pending() -> Voucher:
        return Voucher.objects.create(
            company=customer.company,
            customer=customer,
            reward=reward,
            status=Voucher.Status.PENDING,
            denomination_value=reward.denomination_value,
        )

    stuck, fresh = pending(), pending()
    Voucher.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - timedelta(hours=1))
    client.force_login(get_user_model().objects.create_superuser("su", "su@example.com", "pw"))

    response = client.get("/admin/orders/voucher/", {"stuck": "yes"})

    assert response.status_code == 200
    shown = {v.pk for v in response.context["cl"].result_list}
    assert shown == {stuck.pk} and fresh.pk not in shown
