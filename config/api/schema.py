"""OpenAPI generation: component names and the two bearer-token kinds."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as BaseAutoSchema


class AutoSchema(BaseAutoSchema):
    def get_serializer_name(self, serializer: Any, direction: str) -> str:
        # Views nest `InputSerializer` / `OutputSerializer`: name components after the view
        # ("CompanyAuthApiInput") so two views' InputSerializers never collide.
        qualname = serializer.__class__.__qualname__
        if "." in qualname:
            outer, inner = qualname.rsplit(".", 1)
            return outer.replace(".", "") + inner.removesuffix("Serializer")
        return super().get_serializer_name(serializer, direction)


class CompanyTokenScheme(OpenApiAuthenticationExtension):
    target_class = "config.api.auth.CompanyTokenAuthentication"
    name = "companyToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Company token from POST /v1/company/auth.",
        }


class CustomerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "config.api.auth.CustomerTokenAuthentication"
    name = "customerToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Customer token from POST /v1/customer/auth.",
        }


class CompanyOrCustomerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "config.api.auth.CompanyOrCustomerTokenAuthentication"
    name = "companyOrCustomerToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A company token or a customer token.",
        }


class CompanyBasicScheme(OpenApiAuthenticationExtension):
    target_class = "config.api.loyalty.CompanyBasicAuthentication"
    name = "companyBasic"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "basic",
            "description": "The company's client id as user name, a company secret as password.",
        }
