from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from orders.models import Order, Voucher
from orders.services import LineInput, order_redeem_skus
from tests.factories import reward_with_sku

roles_migration = importlib.import_module("companies.migrations.0002_backoffice_roles")
PROGRAM_MANAGERS = roles_migration.PROGRAM_MANAGERS
FINANCE = roles_migration.FINANCE
PASSWORD = "back-office-pw-1"


@pytest.fixture
def roles(db) -> None:
    """The groups the data migration created. A transactional test (live server) flushes the
    database afterwards, groups included: put them back, exactly as the migration sets them."""
    if Group.objects.filter(name__in=[PROGRAM_MANAGERS, FINANCE]).count() != 2:
        roles_migration.groups_set(django_apps)


def make_staff(username: str, *groups: str, perms: tuple[str, ...] = ()):
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user(
        username, f"{username}@example.com", PASSWORD, is_staff=True
    )
    user.groups.set(Group.objects.filter(name__in=groups))
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


@pytest.fixture
def pm_user(roles):
    return make_staff("pm", PROGRAM_MANAGERS)


@pytest.fixture
def finance_user(roles):
    return make_staff("finance", FINANCE)


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def pm_client(pm_user) -> Client:
    return client_for(pm_user)


@pytest.fixture
def finance_client(finance_user) -> Client:
    return client_for(finance_user)


@pytest.fixture
def super_client(superuser) -> Client:
    return client_for(superuser)


def place_order(
    customer, *lines: tuple[str, int], price: str = "50", created_at: dt.datetime | None = None
) -> Order:
    """An order through the redemption service (the real flow), every line at `price`;
    `created_at` moved afterwards when a test needs a given day."""
    redemption = order_redeem_skus(
        customer=customer,
        company=customer.company,
        order_timestamp=timezone.now(),
        order_total=Decimal(price) * sum(q for _, q in lines),
        order_items=sum(q for _, q in lines),
        line_items=[LineInput(sku=s, quantity=q, price=Decimal(price)) for s, q in lines],
    )
    order = redemption.order
    assert order is not None
    if created_at is not None:
        Order.objects.filter(pk=order.pk).update(created_at=created_at)
        order.vouchers.update(created_at=created_at)
        order.refresh_from_db()
    return order


@pytest.fixture
def seeds(tenant):
    return reward_with_sku(tenant.company, "BIGCITY Seeds", denomination_value=Decimal("10"))


@pytest.fixture
def oats(tenant):
    return reward_with_sku(tenant.company, "BIGCITY Oats", denomination_value=Decimal("30"))


def at(day: str, hour: int = 12) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour)))


def expected_rows(orders, *, show_codes: bool) -> list[list[str]]:
    """The export's rows rebuilt from the models, one by one, as CSV text."""
    rows = []
    for order in sorted(orders, key=lambda o: (o.created_at, o.pk)):
        vouchers = list(Voucher.objects.filter(order=order).select_related("line_item", "reward"))
        vouchers.sort(key=lambda v: v.pk)
        for index, voucher in enumerate(vouchers or [None]):
            code = ""
            if voucher is not None:
                code = voucher.code if show_codes else voucher.code[:4] + "…"
            rows.append(
                [
                    order.public_id,
                    order.order_timestamp.astimezone(dt.UTC).isoformat(),
                    order.company.client_id,
                    "",
                    order.customer.mobile,
                    voucher.line_item.sku if voucher else "",
                    voucher.reward.key if voucher else "",
                    format(voucher.denomination_value, "f") if voucher else "",
                    code,
                    voucher.status if voucher else "",
                    order.status,
                    str(order.points_earned if index == 0 else 0),
                    str(voucher.points_spent if voucher else 0),
                ]
            )
    return rows
