from __future__ import annotations

from .models import Company, Store


def store_get(*, company: Company, code: str) -> Store | None:
    return Store.objects.filter(company=company, code=code).first()
