from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.auth import company_token_for
from config.api.fields import StrictCharField
from config.api.throttling import CompanyAuthThrottle
from config.api.views import CompanyApi, json_object

from .services import company_authenticate


class TokenOutputSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()


class CompanyAuthApi(APIView):
    """Exchange a company secret for a company token."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes = [CompanyAuthThrottle]

    class InputSerializer(serializers.Serializer):
        secret = StrictCharField(max_length=200)

    @extend_schema(request=InputSerializer, responses={200: TokenOutputSerializer}, tags=["auth"])
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=json_object(request))
        serializer.is_valid(raise_exception=True)
        secret = company_authenticate(secret=serializer.validated_data["secret"])
        token = company_token_for(secret)
        return Response(
            {
                "access_token": str(token),
                "token_type": "Bearer",
                "expires_in": int(settings.COMPANY_TOKEN_LIFETIME.total_seconds()),
            }
        )


class CompanyMeApi(CompanyApi):
    """Who am I: the calling company. Cheap; a health check for an integration's credentials."""

    class OutputSerializer(serializers.Serializer):
        client_id = serializers.CharField()
        name = serializers.CharField()
        status = serializers.CharField()

    @extend_schema(responses={200: OutputSerializer}, tags=["auth"])
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(request.user.company).data)
