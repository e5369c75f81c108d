from django.urls import path

from .apis import CustomerAuthApi

urlpatterns = [
    path("customer/auth", CustomerAuthApi.as_view(), name="customer-auth"),
]
