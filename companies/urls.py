from django.urls import path

from .apis import CompanyAuthApi, CompanyMeApi

urlpatterns = [
    path("company/auth", CompanyAuthApi.as_view(), name="company-auth"),
    path("company", CompanyMeApi.as_view(), name="company-me"),
]
