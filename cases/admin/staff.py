"""Clinics and who works in them."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect

from .. import services
from ..choices import Role
from ..models import Clinic, Membership
from ..selectors import clinic_ids_for, is_clinic_admin, staff_managed_by
from .accounts import StaffRefused, refused_message
from .permissions import RolePagesFirst


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

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        """The clinic's membership rows through the services, like the membership pages: audited, last admin kept."""
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        try:
            for row in formset.deleted_forms:
                if row.instance.pk is not None:
                    services.membership_end(membership=row.instance)
                    formset.deleted_objects.append(row.instance)
            for row in formset.forms:
                if row in formset.deleted_forms or not row.has_changed():
                    continue
                if row.instance.pk is None:
                    data = row.cleaned_data
                    saved = services.membership_add(clinic=formset.instance, user=data["user"], role=data["role"])
                    row.instance.__dict__.update(saved.__dict__)
                    formset.new_objects.append(row.instance)
                else:
                    if "user" in row.changed_data:
                        raise ValidationError({"user": "A membership's person is fixed: end it and add another."})
                    services.membership_set_role(membership=row.instance, role=row.cleaned_data["role"])
                    formset.changed_objects.append((row.instance, ["role"]))
        except ValidationError as error:
            raise StaffRefused(error) from error

    def changeform_view(self, request: HttpRequest, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except StaffRefused as refused:
            self.message_user(request, refused_message(refused.error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


@admin.register(Membership)
class MembershipAdmin(RolePagesFirst, admin.ModelAdmin):
    """Who works in which clinic, in which role: a clinic admin manages their own clinics', superusers all.

    Every add, role change and removal goes through ``cases.services`` (audited there; a clinic keeps its
    last active clinic admin). The people offered are ``selectors.staff_managed_by``; a saved membership's
    person and clinic are fixed (end it and add another instead).
    """

    list_display = ["user", "clinic", "role"]
    list_filter = ["role", ("clinic", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["user", "clinic"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    fields = ["user", "clinic", "role"]
    actions = None  # one membership at a time, through its own page, so each removal is checked and audited

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
        return is_clinic_admin(request.user)

    has_change_permission = has_delete_permission = has_view_permission

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return ["user", "clinic"] if obj is not None else []

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "user":
            kwargs["queryset"] = staff_managed_by(request.user).order_by("username")
        elif db_field.name == "clinic":
            clinic_ids = self._administered_clinic_ids(request)
            clinics = Clinic.objects.all()
            kwargs["queryset"] = clinics if clinic_ids is None else clinics.filter(pk__in=clinic_ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Membership, form, change: bool) -> None:
        try:
            if change:
                saved = services.membership_set_role(membership=obj, role=form.cleaned_data["role"])
            else:
                data = form.cleaned_data
                saved = services.membership_add(clinic=data["clinic"], user=data["user"], role=data["role"])
        except ValidationError as error:
            raise StaffRefused(error) from error
        obj.__dict__.update(saved.__dict__)

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        try:
            services.membership_end(membership=obj)
        except ValidationError as error:
            raise StaffRefused(error) from error

    def changeform_view(self, request: HttpRequest, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except StaffRefused as refused:
            self.message_user(request, refused_message(refused.error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request: HttpRequest, object_id: str, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except StaffRefused as refused:
            self.message_user(request, refused_message(refused.error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
