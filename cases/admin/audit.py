"""The audit trail, read-only: clinic admins see their clinics' events, superusers all."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from ..audit import AuditEvent
from ..choices import Role
from ..selectors import (
    clinic_ids_for,
    is_clinic_admin,
)
from .filters import ActorFilter, PatientFilter
from .permissions import RolePagesFirst


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
