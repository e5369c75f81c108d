from __future__ import annotations

import pytest
from django.core.mail.backends.base import BaseEmailBackend

from loyalty.models import ValidationCode

from .conftest import STORE, VALIDATION_CODE, loyalty_client


class BrokenMailServer(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("mail server down")


@pytest.mark.django_db(transaction=True)
def test_a_validation_code_that_cannot_be_mailed_is_a_503_and_is_not_kept(
    tenant, store, member, settings
):
    settings.EMAIL_BACKEND = f"{__name__}.BrokenMailServer"

    response = loyalty_client(tenant).post(
        f"{VALIDATION_CODE}?username={STORE}", {"mobile": member.mobile}, format="json"
    )

    assert response.status_code == 503
    assert response.json()["status"] == {
        "success": False,
        "code": 1034,
        "message": "The validation code could not be sent; try again later",
    }
    assert ValidationCode.objects.count() == 0  # neither usable nor counted against the limit
