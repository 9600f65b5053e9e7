"""``/`` and the admin's home page: where a signed-in user starts, with the links and counts their role needs."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from ..selectors import is_clinic_admin
from .dashboard import may_read_outcomes
from .worklist import worklist_counts


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
