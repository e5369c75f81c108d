from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from rewards import vendor_secrets
from rewards.models import Vendor
from rewards.services import vendor_save

pytestmark = pytest.mark.django_db


def test_vendor_api_key_is_stored_encrypted():
    vendor = vendor_save(
        vendor=Vendor(name="Acme", base_url="http://127.0.0.1:9/"), api_key="vk_live_abc123"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM rewards_vendor")
        assert "vk_live_abc123" not in repr(cursor.fetchall())
    assert (
        vendor_secrets.decrypt(Vendor.objects.get(pk=vendor.pk).api_key_encrypted)
        == "vk_live_abc123"
    )


def test_saving_without_a_new_key_keeps_the_old_one():
    vendor = vendor_save(vendor=Vendor(name="Acme", base_url="http://127.0.0.1:9/"), api_key="k1")
    vendor.timeout_seconds = 3
    vendor_save(vendor=vendor)
    assert vendor_secrets.decrypt(Vendor.objects.get(pk=vendor.pk).api_key_encrypted) == "k1"


def test_admin_vendor_form_never_shows_the_key(client):
    user = get_user_model().objects.create_superuser("root", "r@example.com", "pw")
    client.force_login(user)
    response = client.post(
        "/admin/rewards/vendor/add/",
        {
            "name": "GiftCo",
            "base_url": "http://127.0.0.1:9/",
            "api_key": "vk_secret_value",
            "timeout_seconds": "5",
            "max_retries": "3",
            "backoff_base_seconds": "2",
            "backoff_max_seconds": "60",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    vendor = Vendor.objects.get(name="GiftCo")
    page = client.get(f"/admin/rewards/vendor/{vendor.pk}/change/").content.decode()
    assert "vk_secret_value" not in page and vendor.api_key_encrypted not in page
    assert vendor_secrets.decrypt(vendor.api_key_encrypted) == "vk_secret_value"


def test_a_vendor_must_be_reached_over_https_except_on_loopback():
    from django.core.exceptions import ValidationError

    for url in ("http://127.0.0.1:8900", "http://localhost/", "https://vendor.example.com/"):
        vendor_save(vendor=Vendor(name=f"ok {url}", base_url=url), api_key="k")
    with pytest.raises(ValidationError) as err:
        vendor_save(vendor=Vendor(name="plain", base_url="http://vendor.example.com/"), api_key="k")
    assert "base_url" in err.value.message_dict


def test_a_reward_cannot_use_another_companys_vendor(tenant, other_tenant):
    from rewards.admin import RewardAdminForm
    from tests.factories import BrandFactory

    foreign = vendor_save(
        vendor=Vendor(name="theirs", base_url="https://v.example.com", company=other_tenant.company)
    )
    shared = vendor_save(vendor=Vendor(name="platform", base_url="https://p.example.com"))
    brand = BrandFactory(company=tenant.company)
    data = {
        "company": tenant.company.pk,
        "brand": brand.pk,
        "key": "gift",
        "name": "Gift",
        "denomination_value": "10",
        "status": 1,
        "qty": "5",
        "qty_trigger_limit": "0",
        "fulfilment": "vendor",
        "vendor_product_code": "P1",
    }
    refused = RewardAdminForm(data={**data, "vendor": foreign.pk})
    assert not refused.is_valid() and "vendor" in refused.errors
    accepted = RewardAdminForm(data={**data, "vendor": shared.pk})
    assert accepted.is_valid(), accepted.errors
