from __future__ import annotations

import json
import re
from pathlib import Path

from django.test import RequestFactory

from config.api.loyalty import CODE_FOR_TYPE, LoyaltyCode
from config.views import handler400, handler500

from .conftest import BASE

DOC = Path(__file__).resolve().parents[2] / "docs" / "loyalty.md"


def test_every_loyalty_code_is_in_the_docs_table():
    documented = {int(m) for m in re.findall(r"^\| (\d+) \|", DOC.read_text(), flags=re.M)}
    assert documented == {int(code) for code in LoyaltyCode}


def test_every_error_type_maps_to_a_code():
    assert set(CODE_FOR_TYPE.values()) <= set(LoyaltyCode)


def test_answers_made_outside_drf_carry_the_documented_codes(client):
    unknown = client.get(f"{BASE}/v1/no/such/call")
    assert unknown.status_code == 404 and unknown.json()["status"]["code"] == 1008
    request = RequestFactory().get(f"{BASE}/v1/user/points")
    assert json.loads(handler500(request).content)["status"]["code"] == 1009
    assert json.loads(handler400(request).content)["status"]["code"] == 1001
