"""The clinic-scoped admin: how clinicians list, open and record patients, presentations, visits and treatments.

Who may see and change what comes from the user's role in each clinic (``cases.selectors``), not from
Django's per-model permissions: podiatrists and clinic admins write, reviewers read, and only
superusers delete clinical records (patients are archived instead). Every queryset and every
foreign-key choice is scoped to the user's clinics, so another clinic's record is "not found",
never shown. Saves are validated by the models' ``full_clean()`` (ranges, cross-field rules and the
treatment ladder), plus ``cases.forms`` for rows added together in one submission.

Every page that shows patient data records an audit event (``cases.audit``): a changelist the ids of
the patients on the page, a change page or history page a view, a save a create or update (in the
change view's transaction). Each record's change history (django-simple-history) is one click from its
page; the audit trail itself is browsed read-only by clinic admins, and a patient's access report is
linked from the patient's page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from . import ladder, services
from .audit import AuditAction, AuditEvent, audit_record
from .choices import Response, Role
from .forms import ClinicianChoiceField, PresentationInlineFormSet, TreatmentInlineFormSet
from .models import Clinic, Complication, Membership, Patient, Presentation, Treatment, Visit
from .selectors import (
    WRITE_ROLES,
    can_write,
    clinic_id_of,
    clinic_ids_for,
    clinic_roles,
    is_clinic_admin,
    progression_review,
    scope,
    treating_clinicians,
)

User = get_user_model()
COMPACT_NOTES = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 40})}}


def _narrow_clinician_choices(form_class: type[forms.BaseForm], presentation: Presentation) -> None:
    field = form_class.base_fields.get("clinician")
    if field is not None:
        field.queryset = treating_clinicians(clinic_id=clinic_id_of(presentation), presentation=presentation)


def _writable_clinicians(user) -> QuerySet:
    """Clinician choices before the record's clinic is known: who treats in any clinic the user writes in."""
    writable = clinic_ids_for(user, roles=WRITE_ROLES)
    members = User.objects.filter(is_active=True, memberships__role__in=WRITE_ROLES)
    if writable is not None:
        members = members.filter(memberships__clinic_id__in=writable)
    return members.distinct().order_by("last_name", "first_name", "username")


@dataclass(frozen=True)
class RecordWrites:
    """How the admin creates and changes one kind of clinical record: through ``cases.services`` only."""

    owner: str
    create: Callable[..., models.Model]
    update: Callable[..., models.Model]
    # New rows of one submission are saved in date order, so each is judged against the ones before it.
    date_field: str | None = None


def _with_clinician(service, owner: str):
    def create(*, parent, user, values):
        clinician = values.pop("clinician", None) or user  # a blank clinician is the signed-in user
        return service(**{owner: parent}, clinician=clinician, **values)

    return create


RECORD_WRITES: dict[type[models.Model], RecordWrites] = {
    Patient: RecordWrites(
        "clinic",
        lambda *, parent, user, values: services.patient_create(clinic=parent, **values),
        lambda record, values: services.patient_update(patient=record, **values),
    ),
    Presentation: RecordWrites(
        "patient",
        lambda *, parent, user, values: services.presentation_create(patient=parent, **values),
        lambda record, values: services.presentation_update(presentation=record, **values),
        "first_seen_on",
    ),
    Visit: RecordWrites(
        "presentation",
        _with_clinician(services.visit_record, "presentation"),
        lambda record, values: services.visit_update(visit=record, **values),
        "seen_on",
    ),
    Treatment: RecordWrites(
        "presentation",
        _with_clinician(
            lambda *, presentation, clinician, **values: services.treatment_start(
                presentation=presentation, kind=values.pop("kind"), clinician=clinician, **values
            ),
            "presentation",
        ),
        lambda record, values: services.treatment_update(treatment=record, **values),
        "started_on",
    ),
    Complication: RecordWrites(
        "treatment",
        lambda *, parent, user, values: services.complication_record(treatment=parent, **values),
        lambda record, values: services.complication_update(complication=record, **values),
        "occurred_on",
    ),
}


def _form_values(form: forms.ModelForm, *, changed_only: bool, owner: str) -> dict:
    """The model fields a valid form submits (or only those it changed), without the owner and the formset's keys."""
    model_fields = {field.name for field in form._meta.model._meta.concrete_fields}
    names = form.changed_data if changed_only else list(form.cleaned_data)
    return {name: form.cleaned_data[name] for name in names if name in model_fields and name not in (owner, "id")}


def _blank_clinician_is_user(values: dict, user) -> dict:
    if "clinician" in values and values["clinician"] is None:
        values["clinician"] = user  # "Leave blank to record yourself"
    return values


def _adopt(unsaved: models.Model, saved: models.Model) -> None:
    """Make the admin's form instance the record the service saved: the admin goes on to log and redirect to it."""
    unsaved.__dict__.update(saved.__dict__)


class ServiceRefused(Exception):
    """A service refused a change the form had accepted (the record changed meanwhile); nothing was saved."""

    def __init__(self, error: ValidationError):
        super().__init__(error)
        self.error = error


class ClinicRolePermissions:
    """Permissions from the user's role in the record's clinic; for an inline, the parent record's clinic."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or bool(clinic_roles(request.user))

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        if request.user.is_superuser:
            return True
        roles = clinic_roles(request.user)
        return bool(roles) if obj is None else clinic_id_of(obj) in roles

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return can_write(request.user, None if obj is None else clinic_id_of(obj))

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return can_write(request.user, None if obj is None else clinic_id_of(obj))

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return scope(super().get_queryset(request), request.user)

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        user = request.user
        writable = clinic_ids_for(user, roles=WRITE_ROLES)
        if db_field.related_model is Clinic:
            clinics = Clinic.objects.all()
            kwargs["queryset"] = clinics if writable is None else clinics.filter(pk__in=writable)
        elif hasattr(db_field.related_model, "CLINIC_PATH"):
            kwargs["queryset"] = scope(db_field.related_model._default_manager.all(), user, roles=WRITE_ROLES)
        elif db_field.name == "clinician":
            # Narrowed to the record's own clinic once it is known (get_form / get_formset).
            kwargs["queryset"] = _writable_clinicians(user)
            kwargs["form_class"] = ClinicianChoiceField
            kwargs["required"] = False
            kwargs["help_text"] = "Leave blank to record yourself."
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ClinicRecordAdmin(ClinicRolePermissions, SimpleHistoryAdmin):
    """A clinical record's own pages; ``owner_field`` ties it to its clinic and is fixed once saved.

    Its "History" page lists every saved version (who, when, which fields, old → new); versions are read,
    never reverted from there — a correction is a new change, through the record's own page.
    """

    owner_field: str
    formfield_overrides = COMPACT_NOTES

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        owner = form_class.base_fields.get(self.owner_field)
        if obj is not None and owner is not None:
            # Disabled rather than read-only, so the owner still takes part in validation (the MRN is unique
            # per clinic; a site has one active presentation per patient). Services never move a record either.
            owner.disabled = True
            owner.help_text = "A saved record stays where it was created."
        return form_class

    def get_inlines(self, request: HttpRequest, obj):
        # Child rows are added once their parent is saved: their rules (dates against the first visit or the
        # birth date, the ladder) need the saved parent to be judged at all.
        return self.inlines if obj is not None else []

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        writes = RECORD_WRITES[type(obj)]
        if change:
            if form.has_changed():
                values = _form_values(form, changed_only=True, owner=writes.owner)
                self._through_service(writes.update, obj, _blank_clinician_is_user(values, request.user))
            return
        values = _form_values(form, changed_only=False, owner=writes.owner)
        parent = form.cleaned_data[writes.owner]
        _adopt(obj, self._through_service(writes.create, parent=parent, user=request.user, values=values))

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        """Each inline row through its service: deletions, then changes, then new rows in date order."""
        writes = RECORD_WRITES[formset.model]
        parent = formset.instance
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for deleted in formset.deleted_forms:
            if deleted.instance.pk is not None:
                self._through_service(services.clinical_record_delete, record=deleted.instance)
                formset.deleted_objects.append(deleted.instance)
        kept = [row for row in formset.forms if row not in formset.deleted_forms and row.has_changed()]
        for row in kept:
            if row.instance.pk is not None:
                values = _form_values(row, changed_only=True, owner=writes.owner)
                self._through_service(writes.update, row.instance, _blank_clinician_is_user(values, request.user))
                formset.changed_objects.append((row.instance, list(values)))
        new_rows = [row for row in kept if row.instance.pk is None]
        if writes.date_field:
            new_rows.sort(key=lambda row: row.cleaned_data[writes.date_field])
        for row in new_rows:
            values = _form_values(row, changed_only=False, owner=writes.owner)
            saved = self._through_service(writes.create, parent=parent, user=request.user, values=values)
            _adopt(row.instance, saved)
            formset.new_objects.append(row.instance)

    @staticmethod
    def _through_service(service, *args, **kwargs):
        try:
            return service(*args, **kwargs)
        except ValidationError as error:
            raise ServiceRefused(error) from error

    def changeform_view(self, request: HttpRequest, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceRefused as refused:
            # The change view's transaction has rolled back: nothing of the submission was saved.
            self.message_user(
                request,
                "Nothing was saved: " + " ".join(refused.error.messages) + " Review the record and try again.",
                messages.ERROR,
            )
            return HttpResponseRedirect(request.get_full_path())

    def delete_model(self, request: HttpRequest, obj) -> None:
        services.clinical_record_delete(record=obj)

    def get_changelist_instance(self, request: HttpRequest):
        changelist = super().get_changelist_instance(request)
        audit_record(action=AuditAction.LIST, records=changelist.result_list, object_type=self.opts.label_lower)
        return changelist

    def render_change_form(self, request: HttpRequest, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk is not None:
            audit_record(action=AuditAction.VIEW, record=obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _outside_scope(self, request: HttpRequest, object_id: str):
        """The "not found" redirect for a record the user's clinics do not hold, else None.

        django-simple-history falls back to the unscoped history table when the scoped queryset misses, which
        answered 403 for another clinic's record but 404 for an unused id; only a superuser reads the history
        of a record that no longer exists.
        """
        if request.user.is_superuser or self.get_object(request, unquote(object_id)) is not None:
            return None
        return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)

    def history_view(self, request: HttpRequest, object_id: str, extra_context: dict | None = None):
        if (not_found := self._outside_scope(request, object_id)) is not None:
            return not_found
        response = super().history_view(request, object_id, extra_context)
        record = self.get_object(request, object_id)  # the page renders eagerly, so look the record up again
        if record is not None:
            audit_record(action=AuditAction.VIEW, record=record)
        return response

    def history_form_view(self, request: HttpRequest, object_id: str, version_id: str, extra_context=None):
        if request.method != "GET":
            raise PermissionDenied  # versions are read here, never written back
        if (not_found := self._outside_scope(request, object_id)) is not None:
            return not_found
        response = super().history_form_view(request, object_id, version_id, extra_context)
        record = self.get_object(request, object_id)
        if record is not None:
            audit_record(action=AuditAction.VIEW, record=record)
        return response

    def revert_disabled(self, request: HttpRequest, obj=None) -> bool:
        return True


# Inlines


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


# List filters


class RungFilter(admin.SimpleListFilter):
    """The current rung (1–4, 3.5 for an alternative): the highest rung among the presentation's treatments."""

    title = "current rung"
    parameter_name = "rung"
    NONE_YET = "none"

    def lookups(self, request, model_admin):
        return [(self.NONE_YET, "None yet"), *ladder.RUNG_CHOICES]

    def queryset(self, request, queryset):
        value = self.value()
        if value == self.NONE_YET:
            return queryset.filter(current_step__isnull=True)
        try:
            return queryset.filter(current_step=ladder.step_for_rung(value))
        except ValueError:
            return queryset


class CurrentResponseFilter(admin.SimpleListFilter):
    """The response to the current treatment, which is what decides the next step.

    The current treatment is the one ``cases.ladder.recommend`` judges: highest rung, then latest start.
    A response recorded on an earlier rung is history, so it does not match.
    """

    title = "current treatment's response"
    parameter_name = "current_response"

    def lookups(self, request, model_admin):
        return Response.choices

    def queryset(self, request, queryset):
        if self.value() not in Response.values:
            return queryset
        current = (
            Treatment.objects.filter(presentation=OuterRef("pk"))
            .annotate(step=Treatment.step_expression())
            .order_by("-step", "-started_on", "pk")
        )
        return queryset.annotate(current_response=Subquery(current.values("response")[:1])).filter(
            current_response=self.value()
        )


class InterspaceFilter(admin.SimpleListFilter):
    title = "interspace"
    parameter_name = "interspace"

    def lookups(self, request, model_admin):
        return [("1", "1st"), ("2", "2nd"), ("3", "3rd (Morton's)"), ("4", "4th")]

    def queryset(self, request, queryset):
        if self.value() in {"1", "2", "3", "4"}:
            return queryset.filter(interspace=int(self.value()))
        return queryset


# Clinical records


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

    def get_fields(self, request: HttpRequest, obj=None):
        fields = super().get_fields(request, obj)
        if obj is not None and is_clinic_admin(request.user):
            return [*fields, "access_report"]
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        # Archiving goes through cases.services.patient_archive (the action); only a superuser un-archives.
        return ["access_report"] if request.user.is_superuser else ["archived", "access_report"]

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


@admin.register(Presentation)
class PresentationAdmin(ClinicRecordAdmin):
    owner_field = "patient"
    list_display = [
        "mrn",
        "patient_name",
        "foot_and_space",
        "current_rung",
        "latest_pain_walking",
        "last_visit_on",
        "status",
    ]
    list_display_links = ["mrn", "foot_and_space"]
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

    @admin.display(description="recommendation")
    def recommendation(self, presentation: Presentation) -> str:
        if presentation.pk is None:
            return "—"
        advice = presentation.recommendation()
        return format_html("<strong>{}</strong><br>{}", advice.summary, advice.reason)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        extra_context = {**(extra_context or {}), "can_review_progression": is_clinic_admin(request.user)}
        return super().changelist_view(request, extra_context)

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

    @admin.display(description="clinician")
    def clinician_name(self, record) -> str:
        return record.clinician.get_full_name() or record.clinician.get_username()


@admin.register(Visit)
class VisitAdmin(PresentationChildAdmin):
    list_display = ["mrn", "patient_name", "foot_and_space", "seen_on", "pain_walking", "pain_rest", "clinician_name"]
    list_display_links = ["mrn", "seen_on"]
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
    list_display = ["mrn", "patient_name", "foot_and_space", "kind", "started_on", "response", "clinician_name"]
    list_display_links = ["mrn", "kind"]
    list_filter = ["kind", "response", ("presentation__patient__clinic", admin.RelatedOnlyFieldListFilter)]
    fieldsets = [(None, {"fields": ["presentation"]}), *TREATMENT_FIELDSETS]
    inlines = [ComplicationInline]


# Clinics and their staff


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    fields = ["user", "role"]


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):
    """Clinics and who works in them: superusers only."""

    list_display = ["name", "slug", "time_zone"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser


class RolePagesFirst:
    """Refuse a role the history page before looking the record up, as the change page does.

    Django's history view looks the record up first, so a podiatrist got "not found" on a membership's history
    but 403 on its change page; refusing first gives a role without these pages the same answer on each.
    """

    def history_view(self, request: HttpRequest, object_id: str, extra_context: dict | None = None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return super().history_view(request, object_id, extra_context)


@admin.register(Membership)
class MembershipAdmin(RolePagesFirst, admin.ModelAdmin):
    """Superusers manage memberships; a clinic admin may read their own clinic's."""

    list_display = ["user", "clinic", "role"]
    list_filter = ["role", ("clinic", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["user", "clinic"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]

    def _administered_clinic_ids(self, request: HttpRequest) -> list[int] | None:
        return clinic_ids_for(request.user, roles=frozenset({Role.CLINIC_ADMIN}))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        memberships = super().get_queryset(request)
        clinic_ids = self._administered_clinic_ids(request)
        return memberships if clinic_ids is None else memberships.filter(clinic_id__in=clinic_ids)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_clinic_admin(request.user)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        if request.user.is_superuser:
            return True
        if obj is None:
            return is_clinic_admin(request.user)
        return obj.clinic_id in self._administered_clinic_ids(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser


# The audit trail


class PatientFilter(admin.SimpleListFilter):
    """Events that touched one patient (``?patient=<id>``): views and changes of their records, and lists
    and exports that included them. Reached from the patient's page ("access report")."""

    title = "patient"
    parameter_name = "patient"

    def lookups(self, request, model_admin):
        value = self.value()
        return [(value, f"Patient #{value}")] if value and value.isdigit() else []

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.touching_patient(int(value)) if value and value.isdigit() else queryset


class ActorFilter(admin.SimpleListFilter):
    """The staff who appear in the events this admin may see (not every user of the system)."""

    title = "user"
    parameter_name = "actor"

    def lookups(self, request, model_admin):
        actor_ids = model_admin.get_queryset(request).exclude(actor=None).values("actor")
        return [
            (str(user.pk), user.get_username()) for user in User.objects.filter(pk__in=actor_ids).order_by("username")
        ]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(actor_id=int(value)) if value and value.isdigit() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(RolePagesFirst, admin.ModelAdmin):
    """The audit trail, read-only for everyone: clinic admins see their clinics' events, superusers all.

    Nobody adds, changes or deletes an event here (the model and, on PostgreSQL, a trigger refuse it anyway).
    """

    list_display = [
        "occurred_at",
        "action",
        "via",
        "actor_label",
        "role",
        "clinic_id",
        "object_type",
        "object_id",
        "patient_list",
        "client_ip",
        "request_id",
    ]
    list_filter = [PatientFilter, ActorFilter, "action", "via"]
    date_hierarchy = "occurred_at"
    search_fields = ["=request_id", "=object_id", "actor_label"]
    search_help_text = "Search by request id, record id or username."
    list_per_page = 100

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEvent]:
        events = super().get_queryset(request)
        clinic_ids = clinic_ids_for(request.user, roles=frozenset({Role.CLINIC_ADMIN}))
        return events if clinic_ids is None else events.filter(clinic_id__in=clinic_ids)

    @admin.display(description="patients")
    def patient_list(self, event: AuditEvent) -> str:
        return ", ".join(str(patient_id) for patient_id in event.patient_ids)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_clinic_admin(request.user)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        if not is_clinic_admin(request.user):
            return False
        return obj is None or self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
