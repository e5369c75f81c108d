from __future__ import annotations

from django.db.models import QuerySet

from companies.models import Company

from .models import Customer


def customer_list(*, company: Company) -> QuerySet[Customer]:
    return Customer.objects.filter(company=company)


def customer_find(
    *,
    company: Company,
    mobile: str | None = None,
    email: str | None = None,
    external_id: str | None = None,
) -> Customer | None:
    qs = customer_list(company=company)
    if mobile:
        return qs.filter(mobile=mobile).first()
    if external_id:
        return qs.filter(external_id=external_id).first()
    if email:
        return qs.filter(email__iexact=email).order_by("id").first()
    return None
