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


def _bearer_scheme(target: str, scheme_name: str, description: str) -> type:
    """Register one of the token kinds as an OpenAPI bearer security scheme."""

    def get_security_definition(self: Any, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": description,
        }

    return type(
        f"{scheme_name}Scheme",
        (OpenApiAuthenticationExtension,),
        {
            "target_class": target,
            "name": scheme_name,
            "get_security_definition": get_security_definition,
        },
    )


CompanyTokenScheme = _bearer_scheme(
    "config.api.auth.CompanyTokenAuthentication",
    "companyToken",
    "Company token from POST /v1/company/auth.",
)
CustomerTokenScheme = _bearer_scheme(
    "config.api.auth.CustomerTokenAuthentication",
    "customerToken",
    "Customer token from POST /v1/customer/auth.",
)
CompanyOrCustomerTokenScheme = _bearer_scheme(
    "config.api.auth.CompanyOrCustomerTokenAuthentication",
    "companyOrCustomerToken",
    "A company token or a customer token.",
)


class CompanyBasicScheme(OpenApiAuthenticationExtension):
    target_class = "config.api.loyalty.CompanyBasicAuthentication"
    name = "companyBasic"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "basic",
            "description": "The company's client id as user name, a company secret as password.",
        }
