from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.auth import customer_token_for
from config.api.fields import StrictCharField
from config.api.views import CompanyApi, json_object

from .models import MOBILE_PATTERN
from .services import customer_upsert_for_auth


class CustomerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    mobile = serializers.CharField()
    email = serializers.CharField()
    external_id = serializers.CharField(allow_null=True)


class CustomerAuthApi(CompanyApi):
    """Find or create the customer by mobile within the calling company; return their token."""

    class InputSerializer(serializers.Serializer):
        customer_name = StrictCharField(max_length=200)
        customer_mobile = StrictCharField()
        customer_email = StrictCharField(required=False, allow_blank=True, max_length=254)
        external_id = StrictCharField(required=False, allow_null=True, max_length=100)

        def validate_customer_mobile(self, value: str) -> str:
            import re

            value = value.strip()
            if not re.fullmatch(MOBILE_PATTERN, value):
                raise serializers.ValidationError("10 to 15 digits, an optional leading +.")
            return value

        def validate_customer_email(self, value: str) -> str:
            if value:
                serializers.EmailField().run_validators(value)
            return value

    class OutputSerializer(serializers.Serializer):
        access_token = serializers.CharField()
        token_type = serializers.CharField()
        expires_in = serializers.IntegerField()
        customer = CustomerSerializer()

    @extend_schema(
        request=InputSerializer,
        responses={200: OutputSerializer, 201: OutputSerializer},
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=json_object(request))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        customer, created = customer_upsert_for_auth(
            company=request.user.company,
            name=data["customer_name"],
            mobile=data["customer_mobile"],
            email=data.get("customer_email") or "",
            external_id=data.get("external_id") or None,
        )
        token = customer_token_for(customer, secret_id=request.user.secret_id)
        body = {
            "access_token": str(token),
            "token_type": "Bearer",
            "expires_in": int(settings.CUSTOMER_TOKEN_LIFETIME.total_seconds()),
            "customer": CustomerSerializer(customer).data,
        }
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
