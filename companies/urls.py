from django.urls import path

from .apis import CompanyAuthApi

urlpatterns = [
    path("company/auth", CompanyAuthApi.as_view(), name="company-auth"),
]
