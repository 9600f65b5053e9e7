"""The outcomes dashboard at ``/admin/outcomes/``: how each rung and alternative works out in the user's clinics,
read from the same report as the API's ``/api/v1/reports/outcomes/`` (``cases.reports.outcome_report``), plus
conversion to surgery (``selectors.surgery_conversion``, which the report lacks). Clinic admins and reviewers read
it (reviewers only read anyway: the page writes nothing); a podiatrist is refused. Every figure shows the number
it rests on; the table is the chart's data and downloads as CSV (``?format=csv``)."""

from __future__ import annotations

import csv
import datetime
from dataclasses import dataclass

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from .. import reports
from ..choices import Role, TreatmentKind
from ..reports import OutcomeRow
from ..selectors import SurgeryConversion, clinic_ids_for, surgery_conversion

DASHBOARD_ROLES = frozenset({Role.CLINIC_ADMIN, Role.REVIEWER})


def may_read_outcomes(user) -> bool:
    ids = clinic_ids_for(user, roles=DASHBOARD_ROLES)
    return ids is None or bool(ids)


class DashboardFilters(forms.Form):
    date_from = forms.DateField(
        label="Started from", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    date_to = forms.DateField(
        label="Started until", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    clinician = forms.TypedChoiceField(label="Clinician", required=False, coerce=int, empty_value=None)
    interspace = forms.TypedChoiceField(
        label="Interspace",
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "Any"), ("1", "1st"), ("2", "2nd"), ("3", "3rd (Morton's)"), ("4", "4th")],
    )

    def __init__(self, *args, clinic_ids, **kwargs):
        super().__init__(*args, **kwargs)
        staff = get_user_model().objects.filter(
            is_active=True, memberships__role__in=[Role.PODIATRIST, Role.CLINIC_ADMIN]
        )
        if clinic_ids is not None:
            staff = staff.filter(memberships__clinic_id__in=clinic_ids)
        staff = staff.distinct().order_by("last_name", "first_name", "username")
        self.fields["clinician"].choices = [
            ("", "Any"),
            *[(str(user.pk), user.get_full_name() or user.get_username()) for user in staff],
        ]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end of the range cannot be before its start.")
        return cleaned


@dataclass(frozen=True)
class DashboardRow:
    """One kind's report row and its conversion to surgery."""

    outcome: OutcomeRow
    conversion: SurgeryConversion | None

    @property
    def label(self) -> str:
        return TreatmentKind(self.outcome.kind).label


def follow_up_figures(*, clinic_ids, filters: dict) -> list[dict]:
    """MCID attainment at 6 and 12 months and follow-up completion per time point, beside the BOFAS figures.

    TODO(issue 10): read them from the follow-ups report (cases/followups/) with the same filters, one row per
    time point: {"time_point", "due", "answered", "mcid_reached", "mcid_n"}. Until follow-ups land there are none,
    and the page says so.
    """
    return []


CSV_COLUMNS = [
    ("rung", "rung"),
    ("kind", "treatment"),
    ("started", "started (n)"),
    ("assessed", "assessed (n)"),
    ("complete", "complete relief (n)"),
    ("complete_rate", "complete relief rate"),
    ("partial", "partial relief (n)"),
    ("partial_rate", "partial relief rate"),
    ("none", "no relief (n)"),
    ("none_rate", "no relief rate"),
    ("escalated", "escalated (n)"),
    ("median_days_to_escalation", "median days on the rung before escalation"),
    ("converted", "converted to surgery (n)"),
    ("conversion_rate", "conversion to surgery rate"),
    ("with_complication", "with a complication (n)"),
    ("complication_rate", "complication rate"),
]


def _csv_value(row: DashboardRow, key: str):
    if key == "kind":
        return row.outcome.kind
    if key == "converted":
        return "" if row.conversion is None else row.conversion.converted
    if key == "conversion_rate":
        rate = None if row.conversion is None else row.conversion.rate
        return "" if rate is None else round(rate, 4)
    value = getattr(row.outcome, key)
    if isinstance(value, float):
        return round(value, 4)
    return "" if value is None else value


def outcomes_dashboard_view(request: HttpRequest) -> HttpResponse:
    if not may_read_outcomes(request.user):
        raise PermissionDenied
    clinic_ids = clinic_ids_for(request.user, roles=DASHBOARD_ROLES)
    form = DashboardFilters(request.GET or None, clinic_ids=clinic_ids)
    filters: dict = {}
    if form.is_bound and form.is_valid():
        filters = {
            "date_from": form.cleaned_data["date_from"],
            "date_to": form.cleaned_data["date_to"],
            "clinician_id": form.cleaned_data["clinician"],
            "interspace": form.cleaned_data["interspace"],
        }
    outcome_rows = reports.outcome_report(clinic_ids=clinic_ids, **filters)
    conversions = surgery_conversion(clinic_ids=clinic_ids, **filters)
    rows = [DashboardRow(row, None if row.kind == "neurectomy" else conversions.get(row.kind)) for row in outcome_rows]
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="outcomes-{datetime.date.today().isoformat()}.csv"'
        writer = csv.writer(response)
        writer.writerow([label for _, label in CSV_COLUMNS])
        for row in rows:
            writer.writerow([_csv_value(row, key) for key, _ in CSV_COLUMNS])
        return response
    chart = {
        "labels": [f"{row.outcome.rung} · {row.label}" for row in rows],
        "complete": [row.outcome.complete for row in rows],
        "partial": [row.outcome.partial for row in rows],
        "none": [row.outcome.none for row in rows],
    }
    query = request.GET.copy()
    query["format"] = "csv"
    context = {
        **admin.site.each_context(request),
        "title": "Outcomes",
        "form": form,
        "rows": rows,
        "chart_data": chart,
        "csv_query": query.urlencode(),
        "follow_up_figures": follow_up_figures(clinic_ids=clinic_ids, filters=filters),
    }
    return TemplateResponse(request, "admin/outcomes.html", context)
