"""The clinical records' pages: patients, presentations (with their visits and treatments inline), visits,
treatments and their complications."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from .. import ladder, services
from ..forms import PresentationInlineFormSet, TreatmentInlineFormSet
from ..models import Complication, Patient, Presentation, Treatment, Visit
from ..selectors import (
    WRITE_ROLES,
    clinic_ids_for,
    is_clinic_admin,
    patient_presentation_cards,
    scope,
)
from .filters import CurrentResponseFilter, InterspaceFilter, RungFilter
from .permissions import ClinicRolePermissions, _narrow_clinician_choices
from .review import ProgressionReviewPage
from .summary import CaseWorkspacePages
from .writes import COMPACT_NOTES, ClinicRecordAdmin


class VisitInline(ClinicRolePermissions, admin.TabularInline):
    model = Visit
    extra = 1
    fields = [
        "seen_on",
        "clinician",
        "pain_walking",
        "pain_rest",
        "moxfq_walking_standing",
        "moxfq_pain",
        "moxfq_social",
        "relief_since_previous",
        "notes",
    ]
    formfield_overrides = COMPACT_NOTES

    def get_formset(self, request: HttpRequest, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        if obj is not None:
            _narrow_clinician_choices(formset.form, obj)
        return formset


TREATMENT_FIELDSETS = [
    (None, {"fields": ["kind", ("started_on", "ended_on"), "clinician"]}),
    (
        "Details",
        {
            "fields": [
                "orthosis_type",
                ("injection_drug", "dose_mg", "volume_ml"),
                "unusual_dose_confirmed",
                "ultrasound_guided",
                ("approach", "histology_confirmed"),
            ],
            "description": "Record only the details that apply to this kind of treatment.",
        },
    ),
    ("Response", {"fields": [("response", "response_assessed_on")]}),
    ("Departing from the ladder", {"fields": ["justification"]}),
]


class TreatmentInline(ClinicRolePermissions, admin.StackedInline):
    model = Treatment
    formset = TreatmentInlineFormSet
    fieldsets = TREATMENT_FIELDSETS
    extra = 0
    show_change_link = True
    formfield_overrides = COMPACT_NOTES

    def get_formset(self, request: HttpRequest, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        if obj is not None:
            _narrow_clinician_choices(formset.form, obj)
        return formset


class ComplicationInline(ClinicRolePermissions, admin.TabularInline):
    model = Complication
    extra = 1
    fields = ["kind", "occurred_on", "resolved", "resolved_on", "notes"]
    formfield_overrides = COMPACT_NOTES


class PresentationInline(ClinicRolePermissions, admin.TabularInline):
    model = Presentation
    formset = PresentationInlineFormSet
    extra = 1
    fields = ["foot", "interspace", "onset_on", "first_seen_on", "status"]
    show_change_link = True


@admin.register(Patient)
class PatientAdmin(ClinicRecordAdmin):
    owner_field = "clinic"
    list_display = ["mrn", "family_name", "given_name", "birth_date", "sex", "clinic", "archived"]
    list_display_links = ["mrn", "family_name"]
    list_filter = [("clinic", admin.RelatedOnlyFieldListFilter), "archived", "sex"]
    list_select_related = ["clinic"]
    search_fields = ["mrn", "family_name", "given_name"]
    search_help_text = "Search by MRN or name."
    fields = ["clinic", "mrn", ("given_name", "family_name"), ("birth_date", "sex"), ("phone", "email"), "archived"]
    inlines = [PresentationInline]
    actions = ["archive_selected"]

    ordering = ["-created_at", "-pk"]  # newest first

    def get_fields(self, request: HttpRequest, obj=None):
        fields = super().get_fields(request, obj)
        if obj is not None:
            fields = [*fields, "case_summaries"]
        if obj is not None and is_clinic_admin(request.user):
            return [*fields, "access_report"]
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        # Archiving goes through cases.services.patient_archive (the action); only a superuser un-archives.
        shown = ["access_report", "case_summaries"]
        return shown if request.user.is_superuser else ["archived", *shown]

    @admin.display(description="presentations")
    def case_summaries(self, patient: Patient) -> str:
        """One card per presentation, newest first, each opening its case summary."""
        cards = patient_presentation_cards(patient=patient) if patient.pk else []
        if not cards:
            return "None yet."
        items = format_html_join(
            "",
            '<li class="summary-card"><a href="{}"><strong>{}</strong></a><br>{} · current rung {}<br>'
            "last visit {} · walking pain {}</li>",
            (
                (
                    reverse("admin:cases_presentation_summary", args=[card.pk], current_app=self.admin_site.name),
                    str(card),
                    card.get_status_display(),
                    ladder.rung_label(card.current_step),
                    ladder.format_day(card.last_visit_on) if card.last_visit_on else "—",
                    "—" if card.latest_pain_walking is None else f"{card.latest_pain_walking}/10",
                )
                for card in cards
            ),
        )
        return format_html('<ul class="summary-cards">{}</ul>', items)

    @admin.display(description="access report")
    def access_report(self, patient: Patient) -> str:
        """Who opened, listed, exported or changed this patient's record, and when: the audit trail, filtered."""
        url = reverse("admin:cases_auditevent_changelist", current_app=self.admin_site.name)
        return format_html('<a href="{}?patient={}">Who has seen this record</a>', url, patient.pk)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        initial = super().get_changeform_initial_data(request)
        writable = clinic_ids_for(request.user, roles=WRITE_ROLES)
        if writable is not None and len(writable) == 1:
            initial.setdefault("clinic", writable[0])
        return initial

    @admin.action(description="Archive selected patients", permissions=["change"])
    def archive_selected(self, request: HttpRequest, queryset: QuerySet[Patient]) -> None:
        archived = 0
        for patient in scope(queryset, request.user, roles=WRITE_ROLES).filter(archived=False):
            try:
                services.patient_archive(patient=patient)
            except ValidationError as error:
                self.message_user(request, f"{patient} was not archived: {' '.join(error.messages)}", messages.ERROR)
            else:
                archived += 1
        self.message_user(request, f"Archived {archived} patient{'' if archived == 1 else 's'}.", messages.SUCCESS)


@admin.register(Presentation)
class PresentationAdmin(CaseWorkspacePages, ProgressionReviewPage, ClinicRecordAdmin):
    owner_field = "patient"
    list_display = [
        "mrn",
        "patient_name",
        "foot_and_space",
        "current_rung",
        "latest_pain_walking",
        "last_visit_on",
        "status",
        "summary_link",
    ]
    list_display_links = ["mrn", "foot_and_space"]
    ordering = ["-first_seen_on", "-pk"]  # newest first
    list_filter = [
        RungFilter,
        CurrentResponseFilter,
        "status",
        ("patient__clinic", admin.RelatedOnlyFieldListFilter),
        InterspaceFilter,
        "foot",
    ]
    list_select_related = ["patient__clinic"]
    search_fields = ["patient__mrn", "patient__family_name", "patient__given_name"]
    search_help_text = "Search by MRN or patient name."
    readonly_fields = ["recommendation"]
    fieldsets = [
        (None, {"fields": ["patient", ("foot", "interspace"), "status"]}),
        ("Next step on the ladder", {"fields": ["recommendation"]}),
        (
            "History",
            {
                "fields": [
                    ("onset_on", "first_seen_on"),
                    "symptoms",
                    "aggravating_factors",
                    "relieving_factors",
                    "pain_at_rest",
                    "risk_factors",
                ]
            },
        ),
        ("Examination and imaging", {"fields": ["exam_signs", ("imaging", "size_mm"), "unusual_size_confirmed"]}),
        ("Coding and notes", {"fields": ["icd10_code", "notes"]}),
    ]
    inlines = [VisitInline, TreatmentInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Presentation]:
        return super().get_queryset(request).with_summary()

    def get_fieldsets(self, request: HttpRequest, obj=None):
        if obj is None:
            return [fieldset for fieldset in self.fieldsets if "recommendation" not in fieldset[1]["fields"]]
        return self.fieldsets

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        patient = form_class.base_fields.get("patient")
        if obj is None and patient is not None:
            patient.queryset = patient.queryset.filter(archived=False)
        return form_class

    @admin.display(description="MRN", ordering="patient__mrn")
    def mrn(self, presentation: Presentation) -> str:
        return presentation.patient.mrn

    @admin.display(description="patient", ordering="patient__family_name")
    def patient_name(self, presentation: Presentation) -> str:
        return f"{presentation.patient.family_name}, {presentation.patient.given_name}"

    @admin.display(description="foot and space", ordering="interspace")
    def foot_and_space(self, presentation: Presentation) -> str:
        return f"{presentation.get_foot_display()} · interspace {presentation.interspace}"

    @admin.display(description="current rung", ordering="current_step")
    def current_rung(self, presentation: Presentation) -> str:
        return ladder.rung_label(presentation.current_step)

    @admin.display(description="walking pain (latest)", ordering="latest_pain_walking")
    def latest_pain_walking(self, presentation: Presentation) -> int | None:
        return presentation.latest_pain_walking

    @admin.display(description="last visit", ordering="last_visit_on")
    def last_visit_on(self, presentation: Presentation):
        return presentation.last_visit_on

    @admin.display(description="summary")
    def summary_link(self, presentation: Presentation) -> str:
        url = reverse("admin:cases_presentation_summary", args=[presentation.pk], current_app=self.admin_site.name)
        return format_html('<a href="{}" class="summary-link">Case summary</a>', url)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None):
        # The heading names the patient (and the site), not just "Change presentation".
        record = self.get_object(request, object_id) if object_id.isdigit() else None
        if record is not None:
            patient = record.patient
            extra_context = {**(extra_context or {}), "title": f"{patient.given_name} {patient.family_name} · {record}"}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="recommendation")
    def recommendation(self, presentation: Presentation) -> str:
        if presentation.pk is None:
            return "—"
        advice = presentation.recommendation()
        return format_html("<strong>{}</strong><br>{}", advice.summary, advice.reason)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        extra_context = {**(extra_context or {}), "can_review_progression": is_clinic_admin(request.user)}
        return super().changelist_view(request, extra_context)


class PresentationChildAdmin(ClinicRecordAdmin):
    """Visits and treatments are added on their presentation's page, where the ladder so far is in view;
    their own pages are for lists, corrections, responses and (for treatments) complications."""

    owner_field = "presentation"
    list_select_related = ["presentation__patient__clinic", "clinician"]
    search_fields = [
        "presentation__patient__mrn",
        "presentation__patient__family_name",
        "presentation__patient__given_name",
    ]
    search_help_text = "Search by MRN or patient name."

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # For the change page too (it reads the clinic for permissions), not only the list; the changelist
        # skips list_select_related once a queryset already selects related rows.
        return super().get_queryset(request).select_related(*self.list_select_related)

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None:
            _narrow_clinician_choices(form_class, obj.presentation)
        return form_class

    @admin.display(description="MRN", ordering="presentation__patient__mrn")
    def mrn(self, record) -> str:
        return record.presentation.patient.mrn

    @admin.display(description="patient", ordering="presentation__patient__family_name")
    def patient_name(self, record) -> str:
        patient = record.presentation.patient
        return f"{patient.family_name}, {patient.given_name}"

    @admin.display(description="foot and space")
    def foot_and_space(self, record) -> str:
        presentation = record.presentation
        return f"{presentation.get_foot_display()} · interspace {presentation.interspace}"

    @admin.display(description="case")
    def case_summary(self, record) -> str:
        url = reverse(
            "admin:cases_presentation_summary", args=[record.presentation_id], current_app=self.admin_site.name
        )
        return format_html('<a href="{}" class="summary-link">Summary</a>', url)

    @admin.display(description="clinician")
    def clinician_name(self, record) -> str:
        return record.clinician.get_full_name() or record.clinician.get_username()


@admin.register(Visit)
class VisitAdmin(PresentationChildAdmin):
    list_display = [
        "mrn",
        "patient_name",
        "foot_and_space",
        "seen_on",
        "pain_walking",
        "pain_rest",
        "clinician_name",
        "case_summary",
    ]
    list_display_links = ["mrn", "seen_on"]
    ordering = ["-seen_on", "-pk"]  # newest first
    list_filter = [("presentation__patient__clinic", admin.RelatedOnlyFieldListFilter), "relief_since_previous"]
    fields = [
        "presentation",
        "seen_on",
        "clinician",
        ("pain_walking", "pain_rest"),
        ("moxfq_walking_standing", "moxfq_pain", "moxfq_social"),
        "relief_since_previous",
        "notes",
    ]


@admin.register(Treatment)
class TreatmentAdmin(PresentationChildAdmin):
    list_display = [
        "mrn",
        "patient_name",
        "foot_and_space",
        "kind",
        "started_on",
        "response",
        "clinician_name",
        "case_summary",
    ]
    list_display_links = ["mrn", "kind"]
    ordering = ["-started_on", "-pk"]  # newest first
    list_filter = ["kind", "response", ("presentation__patient__clinic", admin.RelatedOnlyFieldListFilter)]
    fieldsets = [(None, {"fields": ["presentation"]}), *TREATMENT_FIELDSETS]
    inlines = [ComplicationInline]


@admin.register(Complication)
class ComplicationAdmin(ClinicRecordAdmin):
    """Complications in their own list (newest first), each read and corrected here through the services; they
    are recorded on their treatment's page, where the treatment they follow is in view."""

    owner_field = "treatment"
    list_display = [
        "mrn",
        "patient_name",
        "kind",
        "occurred_on",
        "treatment_kind",
        "resolved",
        "resolved_on",
        "case_summary",
    ]
    list_display_links = ["mrn", "kind"]
    list_filter = ["kind", "resolved", ("treatment__presentation__patient__clinic", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["treatment__presentation__patient__clinic"]
    ordering = ["-occurred_on", "-pk"]
    search_fields = [
        "treatment__presentation__patient__mrn",
        "treatment__presentation__patient__family_name",
        "treatment__presentation__patient__given_name",
    ]
    search_help_text = "Search by MRN or patient name."
    fields = ["treatment", "kind", "occurred_on", ("resolved", "resolved_on"), "notes"]

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Complication]:
        return super().get_queryset(request).select_related(*self.list_select_related)

    @admin.display(description="MRN", ordering="treatment__presentation__patient__mrn")
    def mrn(self, complication: Complication) -> str:
        return complication.treatment.presentation.patient.mrn

    @admin.display(description="patient", ordering="treatment__presentation__patient__family_name")
    def patient_name(self, complication: Complication) -> str:
        patient = complication.treatment.presentation.patient
        return f"{patient.family_name}, {patient.given_name}"

    @admin.display(description="case")
    def case_summary(self, complication: Complication) -> str:
        presentation_id = complication.treatment.presentation_id
        url = reverse("admin:cases_presentation_summary", args=[presentation_id], current_app=self.admin_site.name)
        return format_html('<a href="{}" class="summary-link">Summary</a>', url)

    @admin.display(description="after", ordering="treatment__kind")
    def treatment_kind(self, complication: Complication) -> str:
        return complication.treatment.get_kind_display()
