"""Writes for companies, stores and their API secrets."""

from __future__ import annotations

import hashlib
import secrets
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from config.api.errors import ApplicationError

from .models import Company, CompanySecret, Store

SECRET_PREFIX = "bcs_"
PREFIX_LENGTH = 12  # "bcs_" + 8 random characters, shown in the admin to tell secrets apart


def secret_digest(plain: str) -> str:
    # A fast digest is right here: the secret carries 256 random bits, so there is nothing to
    # guess, and an exact digest lets authentication find the row through a unique index.
    return hashlib.sha256(plain.encode()).hexdigest()


def company_secret_issue(*, company: Company, label: str = "") -> tuple[CompanySecret, str]:
    """Mint a secret. The plain text is returned once and never stored."""
    plain = SECRET_PREFIX + secrets.token_urlsafe(32)
    secret = CompanySecret.objects.create(
        company=company, prefix=plain[:PREFIX_LENGTH], digest=secret_digest(plain), label=label
    )
    return secret, plain


def company_secret_revoke(*, secret: CompanySecret) -> CompanySecret:
    CompanySecret.objects.filter(pk=secret.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    secret.refresh_from_db()
    return secret


def company_secret_rotate(*, company: Company, label: str = "") -> tuple[CompanySecret, str]:
    """Issue a new secret; the old ones stay live until revoked, so partners can roll over."""
    return company_secret_issue(company=company, label=label or "rotated")


@transaction.atomic
def company_create(
    *,
    name: str,
    client_id: str,
    parent: Company | None = None,
    store_codes: list[str] | tuple[str, ...] = (),
    points_earn_rate: Decimal = Decimal("0"),
) -> tuple[Company, str]:
    """Create a company with its stores and a first secret; returns the plain secret once."""
    if Company.objects.filter(client_id=client_id).exists():
        raise ApplicationError(
            f"A company with client id {client_id!r} exists", type="client_id_taken"
        )
    company = Company(
        name=name, client_id=client_id, parent=parent, points_earn_rate=points_earn_rate
    )
    company.full_clean()
    company.save()
    for code in dict.fromkeys(store_codes):
        Store.objects.create(company=company, code=code)
    _, plain = company_secret_issue(company=company, label="initial")
    return company, plain


def company_authenticate(*, secret: str) -> CompanySecret:
    """The secret alone identifies the company. Raises 401 / 403 as the contract says."""
    found = (
        CompanySecret.objects.select_related("company")
        .filter(digest=secret_digest(secret), revoked_at__isnull=True)
        .first()
    )
    if found is None:
        raise ApplicationError("Invalid company secret", type="invalid_secret", status=401)
    if not found.company.is_active:
        raise ApplicationError("Company is not active", type="company_inactive", status=403)
    return found
