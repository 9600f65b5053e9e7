"""The base admin of a clinical record: every save, inline row and deletion goes through ``cases.services``,
and every page that shows patient data records an audit event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponseRedirect
from simple_history.admin import SimpleHistoryAdmin

from .. import services
from ..audit import AuditAction, audit_record
from ..models import Complication, Patient, Presentation, Treatment, Visit
from .permissions import ClinicRolePermissions

COMPACT_NOTES = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 40})}}


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
