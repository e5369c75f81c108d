from __future__ import annotations

from django.db import IntegrityError, transaction

from companies.models import Company
from config.api.errors import ApplicationError

from .models import Customer


def customer_upsert_for_auth(
    *,
    company: Company,
    name: str,
    mobile: str,
    email: str = "",
    external_id: str | None = None,
) -> tuple[Customer, bool]:
    """Find the customer by mobile within the company, or create them; refresh name and email.

    Two concurrent first logins of one mobile meet at the unique constraint: the loser of the
    race reads the winner's row instead of failing.
    """
    for _ in range(2):
        try:
            with transaction.atomic():
                customer, created = Customer.objects.select_for_update().get_or_create(
                    company=company,
                    mobile=mobile,
                    defaults={"name": name, "email": email, "external_id": external_id},
                )
                if not created:
                    changed = []
                    if customer.name != name:
                        customer.name = name
                        changed.append("name")
                    if email and customer.email != email:
                        customer.email = email
                        changed.append("email")
                    if external_id and customer.external_id != external_id:
                        customer.external_id = external_id
                        changed.append("external_id")
                    if changed:
                        customer.save(update_fields=[*changed, "updated_at"])
                return customer, created
        except IntegrityError as exc:
            if (
                external_id
                and Customer.objects.filter(company=company, external_id=external_id)
                .exclude(mobile=mobile)
                .exists()
            ):
                raise ApplicationError(
                    "external_id belongs to another customer",
                    type="external_id_taken",
                    errors={"external_id": ["belongs to another customer"]},
                ) from exc
            continue  # lost the creation race: the row exists now
    raise ApplicationError("Could not save the customer, retry", type="conflict", status=409)
