"""Two-tier JWTs: company tokens and customer tokens.

simplejwt's global AUTH_TOKEN_CLASSES would let any configured kind authenticate anywhere, so
each kind has its own token class (its own `token_type` claim) and its own authentication class
that accepts only that class and loads its own Company or Customer. Every request re-reads the
secret that minted the token, so a revoked secret or a suspended company stops working at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import Token

from companies.models import Company, CompanySecret

if TYPE_CHECKING:
    from customers.models import Customer


class CompanyInactive(exceptions.PermissionDenied):
    default_detail = "Company is not active"
    default_code = "company_inactive"


class CompanyAccessToken(Token):
    token_type = "company"

    @property
    def lifetime(self) -> timedelta:  # type: ignore[override]
        return settings.COMPANY_TOKEN_LIFETIME


class CustomerAccessToken(Token):
    token_type = "customer"

    @property
    def lifetime(self) -> timedelta:  # type: ignore[override]
        return settings.CUSTOMER_TOKEN_LIFETIME


def company_token_for(secret: CompanySecret) -> CompanyAccessToken:
    token = CompanyAccessToken()
    token["sub"] = str(secret.company_id)
    token["sid"] = secret.pk
    return token


def customer_token_for(customer: Customer, *, secret_id: int) -> CustomerAccessToken:
    token = CustomerAccessToken()
    token["sub"] = str(customer.pk)
    token["cid"] = customer.company_id
    token["sid"] = secret_id  # revoking the company secret also ends its customers' sessions
    return token


@dataclass(frozen=True)
class Caller:
    """Who is calling: a company, or a customer of that company."""

    company: Company
    secret_id: int
    customer: Customer | None = None

    is_authenticated = True

    @property
    def is_customer(self) -> bool:
        return self.customer is not None


def _live_secret(secret_id: Any, company_id: Any) -> CompanySecret:
    secret = (
        CompanySecret.objects.select_related("company")
        .filter(pk=secret_id, company_id=company_id, revoked_at__isnull=True)
        .first()
    )
    if secret is None:
        raise exceptions.AuthenticationFailed("Token has been revoked", code="token_revoked")
    if not secret.company.is_active:
        raise CompanyInactive()
    return secret


class _SingleKindAuthentication(JWTAuthentication):
    token_class: type[Token]
    invalid_message = "Invalid token"

    def get_validated_token(self, raw_token: bytes) -> Token:
        try:
            return self.token_class(raw_token)
        except TokenError as exc:
            raise exceptions.AuthenticationFailed(
                self.invalid_message, code="invalid_token"
            ) from exc

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="api"'


class CompanyTokenAuthentication(_SingleKindAuthentication):
    token_class = CompanyAccessToken
    invalid_message = "Invalid company token"

    def get_user(self, validated_token: Token) -> Caller:  # type: ignore[override]
        secret = _live_secret(validated_token.get("sid"), validated_token.get("sub"))
        return Caller(company=secret.company, secret_id=secret.pk)


class CustomerTokenAuthentication(_SingleKindAuthentication):
    token_class = CustomerAccessToken
    invalid_message = "Invalid customer token"

    def get_user(self, validated_token: Token) -> Caller:  # type: ignore[override]
        from customers.models import Customer

        secret = _live_secret(validated_token.get("sid"), validated_token.get("cid"))
        customer = Customer.objects.filter(
            pk=validated_token.get("sub"), company_id=secret.company_id
        ).first()
        if customer is None:
            raise exceptions.AuthenticationFailed("Invalid customer token", code="invalid_token")
        return Caller(company=secret.company, secret_id=secret.pk, customer=customer)


class IsCompany(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return isinstance(request.user, Caller) and not request.user.is_customer


class IsCustomer(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return isinstance(request.user, Caller) and request.user.is_customer


class IsCompanyOrCustomer(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return isinstance(request.user, Caller)


class CompanyOrCustomerTokenAuthentication(JWTAuthentication):
    """For endpoints open to both kinds (order history): the token's own type decides. The
    token is decoded once, by the first kind whose type claim it carries."""

    def authenticate(self, request: Any) -> tuple[Caller, Token] | None:
        header = self.get_header(request)
        if header is None:
            return None
        raw = self.get_raw_token(header)
        if raw is None:
            return None
        for kind in (CompanyTokenAuthentication, CustomerTokenAuthentication):
            try:
                token = kind.token_class(raw)
            except TokenError:
                continue
            return kind().get_user(token), token
        raise exceptions.AuthenticationFailed("Invalid token", code="invalid_token")

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="api"'
