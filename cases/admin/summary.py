"""The clinicians' workspace on a presentation: its case summary (``<id>/summary/``) and the one-screen follow-up
visit (``<id>/follow-up-visit/``), added to the presentations admin by ``CaseWorkspacePages``.

Both look the presentation up in the user's clinics first, so another clinic's case gets the admin's own
"doesn't exist" answer, exactly as a missing id does. Both record an audit event (a view; the visit's writes
are audited by the services).
"""

from __future__ import annotations

from types import SimpleNamespace

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from .. import ladder, services
from ..audit import AuditAction, audit_record
from ..choices import Response, TreatmentKind
from ..models import Presentation, Treatment
from ..selectors import can_write, case_summary, treating_clinicians
from .visit_forms import NextTreatmentForm, ResponseForm, VisitForm


class _Refused(Exception):
    """Some part of the one-screen visit was refused: the whole save is rolled back."""


class CaseWorkspacePages:
    """Adds the case summary and the one-screen follow-up visit to the presentations admin."""

    def get_urls(self):
        opts = self.opts
        pages = [
            path(
                "<path:object_id>/summary/",
                self.admin_site.admin_view(self.case_summary_view),
                name=f"{opts.app_label}_{opts.model_name}_summary",
            ),
            path(
                "<path:object_id>/follow-up-visit/",
                self.admin_site.admin_view(self.follow_up_visit_view),
                name=f"{opts.app_label}_{opts.model_name}_follow_up_visit",
            ),
        ]
        return [*pages, *super().get_urls()]

    def _summary_or_redirect(self, request: HttpRequest, object_id: str):
        summary = case_summary(user=request.user, presentation_id=int(object_id)) if object_id.isdigit() else None
        if summary is None:
            return None, self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        return summary, None

    def case_summary_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        summary, not_found = self._summary_or_redirect(request, object_id)
        if not_found is not None:
            return not_found
        if not self.has_view_permission(request, summary.presentation):
            raise PermissionDenied
        audit_record(action=AuditAction.VIEW, record=summary.presentation)
        patient = summary.patient
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{patient.given_name} {patient.family_name} · {summary.presentation}",
            "summary": summary,
            "chart_data": summary.chart_data(),
            "can_write": can_write(request.user, patient.clinic_id),
            "current": summary.current_treatment,
        }
        return TemplateResponse(request, "admin/cases/presentation/summary.html", context)

    def follow_up_visit_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        summary, not_found = self._summary_or_redirect(request, object_id)
        if not_found is not None:
            return not_found
        presentation = summary.presentation
        if not self.has_change_permission(request, presentation):
            raise PermissionDenied
        today = summary.today
        clinicians = treating_clinicians(clinic_ids=[presentation.patient.clinic_id], presentation=presentation)
        current = summary.current_treatment
        last_visit = summary.visits[-1] if summary.visits else None
        data = request.POST if request.method == "POST" else None
        visit_form = VisitForm(
            data,
            prefix="visit",
            clinicians=clinicians,
            today=today,
            last_visit=last_visit,
            initial={
                "seen_on": today,
                "clinician": request.user.pk if clinicians.filter(pk=request.user.pk).exists() else None,
            },
        )
        response_form = (
            ResponseForm(
                data,
                prefix="response",
                today=today,
                initial={"response": current.response, "response_assessed_on": current.response_assessed_on},
            )
            if current is not None
            else None
        )
        next_form = NextTreatmentForm(data, prefix="next", today=today)
        forms_ = [form for form in (visit_form, response_form, next_form) if form is not None]
        saved = (
            request.method == "POST"
            and all(form.is_valid() for form in forms_)
            and self._save_visit(presentation, current, visit_form, response_form, next_form)
        )
        if saved:
            self.message_user(request, "The follow-up visit was saved.", messages.SUCCESS)
            return HttpResponseRedirect(
                reverse("admin:cases_presentation_summary", args=[presentation.pk], current_app=self.admin_site.name)
            )
        audit_record(action=AuditAction.VIEW, record=presentation)
        patient = presentation.patient
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Follow-up visit · {patient.given_name} {patient.family_name} · {presentation}",
            "summary": summary,
            "current": current,
            "visit_form": visit_form,
            "response_form": response_form,
            "next_form": next_form,
            "ladder_rules": _ladder_rules(),
            "ladder_checks": _ladder_checks(summary.treatments, today),
        }
        return TemplateResponse(request, "admin/cases/presentation/follow_up_visit.html", context)

    @staticmethod
    def _save_visit(
        presentation: Presentation,
        current: Treatment | None,
        visit_form: VisitForm,
        response_form: ResponseForm | None,
        next_form: NextTreatmentForm,
    ) -> bool:
        """Record the visit, the response and the next treatment through the services, all or nothing.

        Each part is tried even when an earlier one was refused, so every error shows at once beside its field;
        any refusal rolls the whole submission back.
        """
        visit = visit_form.cleaned_data
        seen_on = visit["seen_on"]
        steps = [
            (
                visit_form,
                lambda: services.visit_record(
                    presentation=presentation, clinician=visit["clinician"], **visit_form.service_values()
                ),
            )
        ]
        if response_form is not None and current is not None:
            response = response_form.cleaned_data["response"]
            assessed_on = response_form.cleaned_data["response_assessed_on"]
            if response != Response.PENDING and assessed_on is None:
                assessed_on = seen_on
            if (response, assessed_on) != (current.response, current.response_assessed_on):
                steps.append(
                    (
                        response_form,
                        lambda: services.treatment_update(
                            treatment=current, response=response, response_assessed_on=assessed_on
                        ),
                    )
                )
        if next_form.cleaned_data.get("kind"):
            steps.append(
                (
                    next_form,
                    lambda: services.treatment_start(
                        presentation=presentation,
                        kind=next_form.cleaned_data["kind"],
                        clinician=visit["clinician"],
                        started_on=next_form.cleaned_data["started_on"] or seen_on,
                        **next_form.service_values(),
                    ),
                )
            )
        refused = False
        try:
            with transaction.atomic():
                for form, write in steps:
                    try:
                        with transaction.atomic():
                            write()
                    except ValidationError as error:
                        refused = True
                        _errors_beside_fields(form, error)
                if refused:
                    raise _Refused
        except _Refused:
            if current is not None:
                current.refresh_from_db()  # the refused update may have set values on the loaded treatment
            return False
        return True


def _errors_beside_fields(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            form.add_error(name if name in form.fields else None, [message for e in errors for message in e.messages])
    else:
        form.add_error(None, error.messages)


def _ladder_checks(treatments: list[Treatment], day) -> list[tuple[str, list[str]]]:
    """What the ladder would say of each kind started on ``day``, given the treatments recorded so far (and their
    recorded responses), without a justification: (kind label, the violations' messages). Pure: no query."""
    checks = []
    for kind, label in TreatmentKind.choices:
        candidate = SimpleNamespace(
            pk=None,
            kind=kind,
            started_on=day,
            ended_on=None,
            response=Response.PENDING,
            response_assessed_on=None,
            justification="",
        )
        checks.append((label, [violation.message for violation in ladder.treatment_violations(candidate, treatments)]))
    return checks


def _ladder_rules() -> list[str]:
    """The ladder's checks in words, shown beside the next treatment (the services apply them on save)."""
    conf = ladder.LadderSettings.from_settings()
    return [
        "Escalate one rung at a time (an alternative may follow an injection); skipping a rung needs a justification.",
        "A neurectomy needs a conservative treatment with partial or no relief, or a justification.",
        f"Corticosteroid injections at least {conf.injection_min_interval_weeks} weeks apart and at most "
        f"{conf.injection_max_per_12_months} in any 12 months, unless justified.",
    ]
