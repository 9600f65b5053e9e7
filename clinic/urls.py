from django.contrib import admin
from django.urls import include, path

from cases.admin.dashboard import outcomes_dashboard_view
from cases.admin.index import admin_index, home
from cases.admin.worklist import worklist_view
from clinic import health

admin.site.site_header = "Neuroma case tracker"
admin.site.site_title = "Neuroma case tracker"
admin.site.index_title = "Cases"
# The admin is the whole site, so its "View site" link would only lead back to the admin index.
admin.site.site_url = None


urlpatterns = [
    path("", home, name="home"),
    # Ahead of admin.site.urls, so that this answers the admin's own index URL ("admin:index"), behind the
    # same sign-in check (admin_view), with the one piece of context the index template needs.
    path("admin/", admin.site.admin_view(admin_index)),
    path("admin/worklist/", admin.site.admin_view(worklist_view), name="worklist"),
    path("admin/outcomes/", admin.site.admin_view(outcomes_dashboard_view), name="outcomes-dashboard"),
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("follow-up/", include("cases.followups.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]

handler404 = "api.errors.not_found"
handler500 = "api.errors.server_error"
