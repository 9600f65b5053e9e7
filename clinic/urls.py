from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import include, path, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from cases.admin.dashboard import may_read_outcomes, outcomes_dashboard_view
from cases.admin.worklist import worklist_counts, worklist_view
from cases.selectors import is_clinic_admin
from clinic import health

admin.site.site_header = "Neuroma case tracker"
admin.site.site_title = "Neuroma case tracker"
admin.site.index_title = "Cases"
# The admin is the whole site, so its "View site" link would only lead back to the admin index.
admin.site.site_url = None


@never_cache
@require_safe
def home(request: HttpRequest) -> HttpResponseRedirect:
    """``/``: the admin index for whoever may use the admin, everyone else the sign-in page that leads there."""
    index = reverse("admin:index")
    if admin.site.has_permission(request):
        return HttpResponseRedirect(index)
    # As the admin itself sends someone not signed in: "/admin/login/?next=/admin/".
    return redirect_to_login(index, login_url=reverse("admin:login"))


def admin_index(request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
    """The admin index, which also links the progression review for those who may open it (a clinic admin), the
    outcomes dashboard for clinic admins and reviewers, and shows whoever treats their worklist's counts."""
    context = {
        **(extra_context or {}),
        "can_review_progression": is_clinic_admin(request.user),
        "can_read_outcomes": may_read_outcomes(request.user),
        "worklist_counts": worklist_counts(request.user),
    }
    return admin.site.index(request, extra_context=context)


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
