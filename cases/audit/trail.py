"""The one place that records audit events.

Every read and write of patient data calls ``audit_record(action=..., ...)`` once:

- writes from ``cases.services`` (whichever door they came through), inside the write's transaction, so a
  refused or rolled-back change leaves no event and a committed change always has one;
- reads from the API views and the admin pages, once per request — a list records the ids of the
  patients on the page it returned, in the same single INSERT;
- sign-ins and failed sign-ins from Django's auth signals and the API's bearer-token check.

Who is acting comes from ``context`` and is read when the event is written: by then the admin's session
user is known, and so is the API's token user (DRF authenticates inside the view and copies the user and
token onto the underlying request). Management commands say who they are with ``acting(...)``. The same
actor is the ``history_user`` of the change history (``history``).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db import NotSupportedError, models
from django.dispatch import receiver
from django.http import HttpRequest

from cases.scoping import clinic_id_of, clinic_roles, patient_id_of
from clinic.request_id import get_request_id

from .context import current_context, current_user
from .models import AuditAction, AuditEvent, AuditVia

SUPERUSER_ROLE = "superuser"


def _via(request: HttpRequest | None) -> str:
    if request is None:
        return AuditVia.COMMAND  # outside any request: a command, a script, a shell
    match = getattr(request, "resolver_match", None)
    if match is not None and "admin" in match.namespaces:
        return AuditVia.ADMIN
    path = getattr(request, "path", "")
    if path.startswith("/api/"):
        return AuditVia.API
    return AuditVia.PAGE


def _client_ip(request: HttpRequest | None) -> str | None:
    # REMOTE_ADDR is the address that reached us; behind a proxy, configure it to set REMOTE_ADDR
    # (a client-supplied X-Forwarded-For would let anyone write any address into the trail).
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def _role(user, clinic_id: int | None) -> str:
    if user is None:
        return ""
    if clinic_id is not None:
        role = clinic_roles(user).get(clinic_id)
        if role:
            return role
    return SUPERUSER_ROLE if user.is_superuser else ""


def _single_clinic(user) -> int | None:
    roles = clinic_roles(user) if user is not None else {}
    return next(iter(roles)) if len(roles) == 1 else None


def audit_record(
    *,
    action: str,
    record: models.Model | None = None,
    records: Iterable[models.Model] | None = None,
    patient_ids: Iterable[int] | None = None,
    object_type: str = "",
    object_id: str = "",
    clinic_id: int | None = None,
    user=None,
    label: str = "",
    via: str | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    """Write one audit event for ``record`` (a clinical record) or ``records`` (a list's page), in one INSERT.

    ``patient_ids`` may be a queryset of records with a ``patient_id`` (an export): the database then
    gathers their distinct patients into the event in the same INSERT.

    The actor, token, address, request id and door (``via``) come from the current context unless given.
    The clinic is the record's; for a list, the one clinic its rows belong to (or the actor's only clinic).
    """
    context = current_context()
    request = request or context.request
    user = user or current_user()
    in_database = isinstance(patient_ids, models.QuerySet)
    patient_ids = _PatientIdsOf(patient_ids) if in_database else list(patient_ids or [])
    if record is not None:
        object_type = object_type or record._meta.label_lower
        object_id = object_id or str(record.pk)
        clinic_id = clinic_id or clinic_id_of(record)
        patient_ids = [patient_id_of(record)]
    if records is not None:
        rows = list(records)
        object_type = object_type or (rows[0]._meta.label_lower if rows else "")
        patient_ids = list(dict.fromkeys(patient_id_of(row) for row in rows))
        clinics = {clinic_id_of(row) for row in rows}
        clinic_id = clinic_id or (clinics.pop() if len(clinics) == 1 else None)
    if clinic_id is None:
        clinic_id = _single_clinic(user)
    auth = getattr(request, "auth", None)
    event = AuditEvent.objects.create(
        actor=user,
        actor_label=label or context.label or (user.get_username() if user is not None else ""),
        api_token_id=getattr(auth, "pk", None),
        api_token_prefix=getattr(auth, "prefix", ""),
        role=_role(user, clinic_id),
        clinic_id=clinic_id,
        action=action,
        via=via or context.via or _via(request),
        object_type=object_type,
        object_id=object_id,
        # A single record's patient, for the common "who saw this patient" lookup; lists keep only patient_ids.
        patient_id=patient_ids[0] if record is not None else None,
        patient_ids=patient_ids,
        client_ip=_client_ip(request),
        request_id=get_request_id() or "",
    )
    if in_database:
        event.__dict__.pop("patient_ids")  # written by the database: read on first use, like a deferred field
    return event


class _PatientIdsOf(models.Expression):
    """The distinct patient ids of a queryset's ``patient_id`` values as a JSON array, worked out by the
    database inside the audit event's INSERT: an export of every patient never holds their ids in Python."""

    output_field = models.JSONField()

    def __init__(self, queryset: models.QuerySet):
        super().__init__()
        self.queryset = queryset

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False):
        return self

    def as_sql(self, compiler, connection):
        inner, params = self.queryset.order_by().values("patient_id").query.get_compiler(connection=connection).as_sql()
        if connection.vendor == "postgresql":
            rows = "COALESCE(jsonb_agg(DISTINCT s.patient_id ORDER BY s.patient_id), '[]'::jsonb)"
            return f"(SELECT {rows} FROM ({inner}) s)", params  # noqa: S608
        if connection.vendor == "sqlite":
            ids = f"SELECT DISTINCT patient_id FROM ({inner}) ORDER BY patient_id"  # noqa: S608
            return f"(SELECT json_group_array(patient_id) FROM ({ids}))", params  # noqa: S608
        raise NotSupportedError(f"audit_record has no SQL for a queryset's patient ids on {connection.vendor}")


@receiver(user_logged_in, dispatch_uid="audit-login")
def _record_login(sender, request, user, **kwargs) -> None:
    audit_record(action=AuditAction.LOGIN, user=user, request=request, via=_via(request) if request else None)


@receiver(user_login_failed, dispatch_uid="audit-login-failure")
def _record_login_failure(sender, credentials, request=None, **kwargs) -> None:
    attempted = str(credentials.get("username", ""))[:150]
    audit_record(action=AuditAction.LOGIN_FAILURE, label=attempted, request=request, via=_via(request))
