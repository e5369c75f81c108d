"""Base classes for Partner API views: who may call, how often, and the body must be an object."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.views import APIView

from config.api.errors import ApplicationError

from .auth import (
    CompanyOrCustomerTokenAuthentication,
    CompanyTokenAuthentication,
    CustomerTokenAuthentication,
    IsCompany,
    IsCompanyOrCustomer,
    IsCustomer,
)
from .throttling import CompanyCallsThrottle


def json_object(request: Request) -> dict[str, Any]:
    """The parsed body, which must be a JSON object (400 otherwise)."""
    data = request.data
    if not isinstance(data, dict):
        raise ApplicationError("The body must be a JSON object", type="invalid_body", status=400)
    return data


class CompanyApi(APIView):
    authentication_classes = [CompanyTokenAuthentication]
    permission_classes = [IsCompany]
    throttle_classes = [CompanyCallsThrottle]


class CustomerApi(APIView):
    authentication_classes = [CustomerTokenAuthentication]
    permission_classes = [IsCustomer]
    throttle_classes = [CompanyCallsThrottle]


class CompanyOrCustomerApi(APIView):
    authentication_classes = [CompanyOrCustomerTokenAuthentication]
    permission_classes = [IsCompanyOrCustomer]
    throttle_classes = [CompanyCallsThrottle]
