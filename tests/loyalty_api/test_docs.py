from __future__ import annotations

import re
from pathlib import Path

from config.api.loyalty import CODE_FOR_TYPE, LoyaltyCode

DOC = Path(__file__).resolve().parents[2] / "docs" / "loyalty.md"


def test_every_loyalty_code_is_in_the_docs_table():
    documented = {int(m) for m in re.findall(r"^\| (\d+) \|", DOC.read_text(), flags=re.M)}
    assert documented == {int(code) for code in LoyaltyCode}


def test_every_error_type_maps_to_a_code():
    assert set(CODE_FOR_TYPE.values()) <= set(LoyaltyCode)
