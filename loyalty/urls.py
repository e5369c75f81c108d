from django.urls import path

from .apis import IsRedeemableApi, PointsBalanceApi, PointsLedgerApi, ValidationCodeSendApi

urlpatterns = [
    path("v1/user/points", PointsBalanceApi.as_view(), name="loyalty-points"),
    path("v1/user/points/ledger", PointsLedgerApi.as_view(), name="loyalty-points-ledger"),
    path(
        "v1/user/rewards/isRedeemable",
        IsRedeemableApi.as_view(),
        name="loyalty-rewards-is-redeemable",
    ),
    path(
        "v1/user/rewards/validationCode",
        ValidationCodeSendApi.as_view(),
        name="loyalty-rewards-validation-code",
    ),
]
