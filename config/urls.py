from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from edc import api as edc_api
from edc import language_preference
from followup import api as followup_api
from infusion import api as infusion_api
from screening import api as screening_api

router = DefaultRouter()
# No `.json`-style suffixes: `format` is a query parameter (the exports' csv|json|parquet), and a suffix would
# reach actions that take no `format` argument.
router.include_format_suffixes = False
for routes in (edc_api.ROUTES, screening_api.ROUTES, infusion_api.ROUTES, followup_api.ROUTES):
    for prefix, viewset in routes:
        # Viewsets without a model of their own name their route themselves.
        router.register(prefix, viewset, basename=getattr(viewset, "route_basename", None))

urlpatterns = [
    path("admin/", admin.site.urls),
    # The admin header's language switch: Django's set_language, which also remembers the choice on the user.
    path("i18n/setlang/", language_preference.set_language, name="set_language"),
    path("api/v1/auth/token/", edc_api.TokenView.as_view(), name="api-token"),
    path("api/v1/auth/token/revoke/", edc_api.TokenRevokeView.as_view(), name="api-token-revoke"),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
]

handler404 = edc_api.not_found
