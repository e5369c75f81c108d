from django.urls import path

from .apis import OrderDetailApi, OrderListApi, RedemptionCreateApi

urlpatterns = [
    # The seed's spelling is the contract's path; the correct spelling is an alias.
    path("bigcity/redeemptiononskus", RedemptionCreateApi.as_view(), name="redemption-create"),
    path("bigcity/redemptiononskus", RedemptionCreateApi.as_view(), name="redemption-create-alias"),
    path("orders", OrderListApi.as_view(), name="order-list"),
    path("orders/<str:order_id>", OrderDetailApi.as_view(), name="order-detail"),
]
