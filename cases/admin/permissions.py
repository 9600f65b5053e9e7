"""Who may see, change and choose what in the admin: the user's role in the record's clinic, never Django's
per-model permissions; and the clinician choices, scoped the same way."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest

from ..forms import ClinicianChoiceField, FirstErrorFocusForm, with_validator_bounds
from ..models import Clinic, Presentation
from ..selectors import (
    WRITE_ROLES,
    can_write,
    clinic_id_of,
    clinic_ids_for,
    clinic_roles,
    scope,
    treating_clinicians,
)

User = get_user_model()


def _narrow_clinician_choices(form_class: type[forms.BaseForm], presentation: Presentation) -> None:
    field = form_class.base_fields.get("clinician")
    if field is not None:
        field.queryset = treating_clinicians(clinic_ids=[clinic_id_of(presentation)], presentation=presentation)


def _writable_clinicians(user) -> QuerySet:
    """Clinician choices before the record's clinic is known: who treats in any clinic the user writes in."""
    return treating_clinicians(clinic_ids=clinic_ids_for(user, roles=WRITE_ROLES))


class ClinicRolePermissions:
    """Permissions from the user's role in the record's clinic; for an inline, the parent record's clinic.

    Its pages' forms also carry each number's range to the browser and open a refused submission at its
    first error (cases.forms).
    """

    form = FirstErrorFocusForm

    def formfield_for_dbfield(self, db_field, request: HttpRequest, **kwargs):
        return with_validator_bounds(super().formfield_for_dbfield(db_field, request, **kwargs), db_field)

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


class RolePagesFirst:
    """Refuse a role the history page before looking the record up, as the change page does.

    Django's history view looks the record up first, so a podiatrist got "not found" on a membership's history
    but 403 on its change page; refusing first gives a role without these pages the same answer on each.
    """

    def history_view(self, request: HttpRequest, object_id: str, extra_context: dict | None = None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return super().history_view(request, object_id, extra_context)
