"""The clinic admins' progression review: active cases that need a decision, with the reasons."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path, reverse

from .. import ladder
from ..audit import AuditAction, audit_record
from ..selectors import (
    is_clinic_admin,
    progression_review,
)


@dataclass(frozen=True)
class ReviewRow:
    change_url: str
    mrn: str
    patient_name: str
    site: str
    clinic: str
    rung: str
    summary: str
    reason: str
    skipped: str


@dataclass(frozen=True)
class ReviewSection:
    key: str
    title: str
    description: str
    rows: list[ReviewRow]


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
        """Active cases needing a clinic admin's attention, one section per reason."""
        if not is_clinic_admin(request.user):
            raise PermissionDenied
        review = progression_review(user=request.user)
        listed = {
            entry.presentation.pk: entry.presentation
            for entries in (review.due_for_escalation, review.stalled, review.skipped_rungs, review.worsening)
            for entry in entries
        }
        audit_record(action=AuditAction.LIST, records=listed.values(), object_type=self.opts.label_lower)
        sections = [
            ReviewSection(
                "due_for_escalation",
                "Due for escalation",
                "The current rung has failed or the case is worsening: move up the ladder or consider surgery.",
                self._review_rows(review.due_for_escalation),
            ),
            ReviewSection(
                "stalled",
                "Stalled",
                "The trial has ended and no response has been recorded.",
                self._review_rows(review.stalled),
            ),
            ReviewSection(
                "skipped_rungs",
                "Skipped rungs",
                "A treatment was started more than one rung above everything tried before it.",
                self._review_rows(review.skipped_rungs),
            ),
            ReviewSection(
                "worsening",
                "Worsening",
                "Pain at rest, or walking pain rising between visits.",
                self._review_rows(review.worsening),
            ),
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Progression review",
            "opts": self.opts,
            "sections": sections,
        }
        return TemplateResponse(request, "admin/cases/presentation/progression_review.html", context)

    def _review_rows(self, entries) -> list[ReviewRow]:
        rows = []
        for entry in entries:
            presentation, advice = entry.presentation, entry.recommendation
            rows.append(
                ReviewRow(
                    change_url=reverse(
                        f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                        args=[presentation.pk],
                        current_app=self.admin_site.name,
                    ),
                    mrn=presentation.patient.mrn,
                    patient_name=f"{presentation.patient.family_name}, {presentation.patient.given_name}",
                    site=self.foot_and_space(presentation),
                    clinic=presentation.patient.clinic.name,
                    rung=ladder.rung_label(ladder.highest_step(presentation.treatments.all())),
                    summary=advice.summary,
                    reason=advice.reason,
                    skipped=", ".join(str(treatment) for treatment in entry.skipped),
                )
            )
        return rows
