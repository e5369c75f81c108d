from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config import views
from config.api import schema  # noqa: F401  (registers the OpenAPI auth extensions)
from orders.dashboard import dashboard_view

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    # Before admin.site.urls, whose catch-all would take it; staff only, like every admin page.
    path("admin/dashboard/", admin.site.admin_view(dashboard_view), name="admin-dashboard"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("v1/", include("companies.urls")),
    path("v1/", include("customers.urls")),
    path("v1/", include("rewards.urls")),
    path("v1/", include("orders.urls")),
    path("api_gateway/rewards/core/", include("loyalty.urls")),
    path("api_gateway/rewards/core/", include("orders.loyalty_urls")),
    # Anything else under an API prefix answers in that family's envelope, even with DEBUG on.
    re_path(r"^v1/", views.api_not_found),
    re_path(r"^api_gateway/", views.api_not_found),
]

handler400 = "config.views.handler400"
handler404 = "config.views.handler404"
handler500 = "config.views.handler500"
