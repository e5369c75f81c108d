"""Mounted under /api_gateway/rewards/core/ (config/urls.py)."""

from django.urls import path, re_path

from .loyalty_apis import (
    RewardIssueApi,
    RewardIssueDetailApi,
    RewardIssueFulfilmentApi,
    VouchersByBrandApi,
)

urlpatterns = [
    path(
        "v1/user/vouchers/brand/<str:brand>",
        VouchersByBrandApi.as_view(),
        name="loyalty-vouchers-by-brand",
    ),
    # The seed's path ends with a slash; clients that drop it reach the same call.
    re_path(
        r"^v1\.1/user/rewards/issue/?$", RewardIssueApi.as_view(), name="loyalty-rewards-issue"
    ),
    path(
        "v1/user/rewards/<int:transaction_id>",
        RewardIssueDetailApi.as_view(),
        name="loyalty-reward-issue-detail",
    ),
    path(
        "v1/user/rewards/<int:transaction_id>/fulfillment",
        RewardIssueFulfilmentApi.as_view(),
        name="loyalty-reward-issue-fulfilment",
    ),
]
