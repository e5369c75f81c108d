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
