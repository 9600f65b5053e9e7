from django.contrib import admin
from django.urls import include, path

from clinic import health

admin.site.site_header = "Neuroma case tracker"
admin.site.site_title = "Neuroma case tracker"
admin.site.index_title = "Cases"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("follow-up/", include("cases.followups.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]

handler404 = "api.errors.not_found"
handler500 = "api.errors.server_error"
