"""Clinics and who works in them."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from ..choices import Role
from ..models import Clinic, Membership
from ..selectors import (
    clinic_ids_for,
    is_clinic_admin,
)
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
