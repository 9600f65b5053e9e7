"""The audit event: one append-only row per read or write of patient data, and per sign-in attempt.

A row says who (user and, for the API, which token), in which role and clinic, did what (view, list,
create, update, archive, delete, export, login, login failure), through which door (API, admin, page or
command), to which record and which patients, when, from which address and in which request.
It holds ids only — never a name, MRN or birth date — so the trail itself is not a second copy of the
record. Rows are never changed or deleted: this model refuses both in Python, and on PostgreSQL a
trigger (migration ``0004_audit_trail_and_change_history``) refuses ``UPDATE`` and ``DELETE`` from any path.
Foreign keys point at users only (``PROTECT``: users with history are deactivated, not deleted); the
clinic and patient are plain ids, so no cascade can ever touch a row. ``cases.audit`` writes them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection, models
from django.db.models.expressions import RawSQL


class AuditAction(models.TextChoices):
    VIEW = "view", "View"
    LIST = "list", "List"
    CREATE = "create", "Create"
    UPDATE = "update", "Update"
    ARCHIVE = "archive", "Archive"
    DELETE = "delete", "Delete"
    EXPORT = "export", "Export"
    LOGIN = "login", "Login"
    LOGIN_FAILURE = "login_failure", "Login failure"


class AuditVia(models.TextChoices):
    API = "api", "REST API"
    ADMIN = "admin", "Admin"
    PAGE = "page", "Page"
    COMMAND = "command", "Management command"


class AuditTrailIsAppendOnly(Exception):
    """Raised on any attempt to change or delete an audit event."""


APPEND_ONLY = "Audit events are append-only: they are never changed or deleted."


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditTrailIsAppendOnly(APPEND_ONLY)

    def bulk_update(self, objs, fields, batch_size=None):
        raise AuditTrailIsAppendOnly(APPEND_ONLY)

    def delete(self):
        raise AuditTrailIsAppendOnly(APPEND_ONLY)

    def touching_patient(self, patient_id: int) -> AuditEventQuerySet:
        """Every event that read or wrote this patient's record, including the lists that showed it."""
        if connection.vendor == "postgresql":
            return self.filter(patient_ids__contains=[patient_id])
        # SQLite has no JSON containment lookup; json_each walks the list in SQL all the same.
        listed = RawSQL(  # noqa: S611 (the table name is the model's own, the id a bound parameter)
            f"EXISTS (SELECT 1 FROM json_each({self.model._meta.db_table}.patient_ids) WHERE json_each.value = %s)",  # noqa: S608
            [patient_id],
            output_field=models.BooleanField(),
        )
        return self.annotate(lists_patient=listed).filter(lists_patient=True)


class AuditEvent(models.Model):
    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty for a failed sign-in or a management command run by no user.",
    )
    actor_label = models.CharField(
        max_length=150, blank=True, help_text="The username (or attempted username, or command) at the time."
    )
    api_token_id = models.PositiveBigIntegerField("API token id", null=True, blank=True)
    api_token_prefix = models.CharField("API token prefix", max_length=12, blank=True)
    role = models.CharField(max_length=20, blank=True, help_text="The actor's role in the clinic, or 'superuser'.")
    clinic_id = models.PositiveBigIntegerField("clinic id", null=True, blank=True, db_index=True)
    action = models.CharField(max_length=20, choices=AuditAction.choices)
    via = models.CharField(max_length=10, choices=AuditVia.choices)
    object_type = models.CharField(max_length=100, blank=True, help_text="e.g. cases.patient")
    object_id = models.CharField(max_length=64, blank=True)
    patient_id = models.PositiveBigIntegerField("patient id", null=True, blank=True, db_index=True)
    patient_ids = models.JSONField(
        "patient ids", default=list, blank=True, help_text="Every patient the event touched, e.g. a list's page."
    )
    client_ip = models.GenericIPAddressField("client IP", null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        indexes = [
            models.Index(fields=["clinic_id", "-occurred_at"], name="auditevent_clinic_time"),
            models.Index(fields=["actor", "-occurred_at"], name="auditevent_actor_time"),
        ]

    def __str__(self) -> str:
        target = f" {self.object_type} {self.object_id}".rstrip() if self.object_type else ""
        when = f"{self.occurred_at:%Y-%m-%d %H:%M:%S}" if self.occurred_at else "now"
        return f"{self.get_action_display()}{target} by {self.actor_label or 'unknown'} at {when}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditTrailIsAppendOnly(APPEND_ONLY)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditTrailIsAppendOnly(APPEND_ONLY)
