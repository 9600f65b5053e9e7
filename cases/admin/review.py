"""The clinic admins' progression review: each active case that needs a decision, once, with all its reasons."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path

from ..audit import AuditAction, audit_record
from ..selectors import is_clinic_admin, progression_review


class ProgressionReviewPage:
    """Adds the review page to the presentations admin, at ``review/``."""

    def get_urls(self):
        review = path(
            "review/",
            self.admin_site.admin_view(self.progression_review_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_review",
        )
        # Before the default URLs, whose "<object_id>/" pattern would otherwise take "review/".
        return [review, *super().get_urls()]

    def progression_review_view(self, request: HttpRequest) -> TemplateResponse:
        """Active cases needing a clinic admin's attention, filtered by the query string (treating clinician,
        rung, reason, order)."""
        if not is_clinic_admin(request.user):
            raise PermissionDenied
        review = progression_review(user=request.user, query=request.GET)
        audit_record(
            action=AuditAction.LIST,
            records=[entry.presentation for entry in review.entries],
            object_type=self.opts.label_lower,
        )
        context = {
            **self.admin_site.each_context(request),
            "title": "Progression review",
            "opts": self.opts,
            "review": review,
        }
        return TemplateResponse(request, "admin/cases/presentation/progression_review.html", context)
