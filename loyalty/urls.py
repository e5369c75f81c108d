from django.urls import path

from .apis import PointsBalanceApi, PointsLedgerApi

urlpatterns = [
    path("v1/user/points", PointsBalanceApi.as_view(), name="loyalty-points"),
    path("v1/user/points/ledger", PointsLedgerApi.as_view(), name="loyalty-points-ledger"),
]
