from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import DefaultRouter

from edc import api as edc_api
from screening import api as screening_api

router = DefaultRouter()
for prefix, viewset in edc_api.ROUTES:
    router.register(prefix, viewset)
for prefix, viewset in screening_api.ROUTES:
    router.register(prefix, viewset, basename=getattr(viewset, "route_basename", None))

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/auth/token/", obtain_auth_token, name="api-token"),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]
