"""Every write to the case record goes through these functions.

Each one runs in a transaction, locks the presentation it changes (so two clinicians recording
injections at once cannot both slip under the yearly limit), validates with the model's
``full_clean()`` — which applies the field ranges, the cross-field rules and the treatment
ladder — and only then saves. A ``ValidationError`` leaves the database untouched.

Each also records its audit event (``cases.audit``) in the same transaction: a committed change always
has one, a refused change never does. The change history (``cases.audit.history``) follows ``save()``. A saved
visit or treatment also refreshes its presentation's stored outcome facts (``cases.outcomes``) here, in
the same transaction, rather than from a signal: what a write changes is read in the function that writes.

The admin, the API, the FHIR layer and the management commands all call these functions; none saves a
clinical record itself.

What a write costs in queries (docs/benchmarks.md lists them for a visit and a treatment): the
presentation is read once, locked; its treatments and visits once, under that lock
(``outcomes.presentation_history``), for the ladder and for the outcome facts; the treating clinician
is checked without a query when it is the caller, whose roles came with their token; the record is
validated without asking the database again for the parent it just locked or for each check
constraint (``cases.models.checks``); then the INSERT, its history row, its audit event, and the facts
that changed. A caller that ends the whole transaction on any error (``single_transaction``) spares
the functions their savepoints.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import datetime
import functools
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from . import outcomes, selectors
from .audit import AuditAction, AuditVia, audit_record
from .followups import links as follow_up_links
from .followups import messaging as follow_up_messaging
from .followups import schedule as follow_up_schedule
from .followups import scoring as follow_up_scoring
from .followups import selectors as follow_up_selectors
from .followups import transitions as follow_up_transitions
from .followups.choices import AnswerChannel, FollowUpStatus, MessageKind
from .followups.models import FollowUp, FollowUpAnswer, FollowUpLink, FollowUpMessage
from .models import Clinic, Complication, Patient, Presentation, Treatment, Visit
from .scoping import known_clinic_roles

_F = TypeVar("_F", bound=Callable[..., Any])

# Inside single_transaction(): any error ends the whole transaction, so a function needs no savepoint.
_ONE_TRANSACTION: contextvars.ContextVar[bool] = contextvars.ContextVar("one_transaction", default=False)
# The presentations locked in the running single_transaction by presentation_for_write, by pk (None outside one).
_LOCKED: contextvars.ContextVar[dict[int, Presentation] | None] = contextvars.ContextVar(
    "locked_presentations", default=None
)


@contextlib.contextmanager
def single_transaction() -> Iterator[None]:
    """One transaction around several writes, for a caller that lets any error end it (and roll it all back).

    The write functions called inside open no savepoint of their own (two queries each): a savepoint
    only matters to a caller that catches an error and carries on in the same transaction, which a
    caller of this must not do. The API's idempotent create uses it: its key record and the write
    commit or roll back together.
    """
    with transaction.atomic():
        token, locked = _ONE_TRANSACTION.set(True), _LOCKED.set({})
        try:
            yield
        finally:
            _LOCKED.reset(locked)
            _ONE_TRANSACTION.reset(token)


def _write(function: _F) -> _F:
    """``transaction.atomic`` for a write function, without its savepoint inside ``single_transaction``."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        with transaction.atomic(savepoint=not _ONE_TRANSACTION.get()):
            return function(*args, **kwargs)

    return run  # type: ignore[return-value]


def _validated_save(
    instance,
    audit_action: str = "",
    *,
    verified: tuple[str, ...] = (),
    history: outcomes.PresentationHistory | None = None,
    **fields: Any,
):
    """Validate with ``full_clean()`` and save.

    ``verified`` relations were read in this transaction; a treatment is judged by the ladder against the
    ``history`` read under the presentation's lock. Both hold for this validation only: a later save of
    the same instance checks afresh.
    """
    creating = instance._state.adding
    for name, value in fields.items():
        setattr(instance, name, value)
    # Only a relation that is set: an empty one must still be refused by its field's own check.
    instance.verified_relations = frozenset(
        name for name in verified if getattr(instance, instance._meta.get_field(name).attname) is not None
    )
    if history is not None and isinstance(instance, Treatment):
        instance.ladder_siblings = history.treatments
    try:
        instance.full_clean()
    finally:
        del instance.verified_relations
        instance.__dict__.pop("ladder_siblings", None)
    instance.save()
    audit_record(action=audit_action or (AuditAction.CREATE if creating else AuditAction.UPDATE), record=instance)
    return instance


def _for_update(queryset):
    # Lock the presentation row only: without of=, PostgreSQL also locks the joined patient and clinic
    # rows, which would queue every write in the clinic behind this one. The clinic's follow-up settings
    # come with it for the follow-up plan.
    return queryset.select_for_update(of=("self",)).select_related("patient__clinic__follow_up_settings")


def presentation_for_write(queryset, pk) -> Presentation:
    """The presentation ``pk`` as ``queryset`` (the caller's scope) finds it, to write under.

    Inside ``single_transaction`` it is locked in the same query, and the write functions called in that
    transaction reuse it instead of locking it again: the API's creates resolve the body's presentation
    this way. Outside one it is a plain read, and the write function locks it itself. Raises the
    queryset's ``DoesNotExist`` for an id it does not find.
    """
    locked = _LOCKED.get()
    if locked is None:
        return queryset.get(pk=pk)
    presentation = _for_update(queryset).get(pk=pk)
    locked[presentation.pk] = presentation
    return presentation


def _lock_presentation(presentation: Presentation) -> Presentation:
    """The presentation locked, with its patient, clinic and follow-up settings."""
    held = (_LOCKED.get() or {}).get(presentation.pk)
    return held if held is not None else _for_update(Presentation.objects).get(pk=presentation.pk)


def _verified(clinician) -> tuple[str, ...]:
    # The parent was just locked; a clinician passed _check_clinician (or is the one already recorded).
    return ("presentation", "clinician") if clinician is not None else ("presentation",)


def _check_clinician(presentation: Presentation, clinician, *, current=None) -> None:
    """The treating clinician works in the presentation's clinic (``selectors.treating_clinicians``)."""
    if clinician is None or (current is not None and clinician.pk == current):
        return
    clinic_id = presentation.patient.clinic_id
    # The same rule as treating_clinicians' first clause (an active podiatrist or clinic admin of the
    # clinic), answered from the roles read with the caller's token in this request when those are known.
    roles = known_clinic_roles(clinician)
    if clinician.is_active and roles is not None and roles.get(clinic_id) in selectors.WRITE_ROLES:
        return
    if (
        not selectors.treating_clinicians(clinic_ids=[clinic_id], presentation=presentation)
        .filter(pk=clinician.pk)
        .exists()
    ):
        raise ValidationError(
            {"clinician": "The treating clinician must be a podiatrist or clinic admin of this patient's clinic."}
        )


def _refresh_outcomes(presentation_id: int) -> None:
    outcomes.outcome_facts_refresh(presentation_id=presentation_id)


def _keep_parent(fields: dict[str, Any], parent: str) -> None:
    """A record never moves to another parent, whether the parent is given as an object or as its id."""
    fields.pop(parent, None)
    fields.pop(f"{parent}_id", None)


@_write
def patient_create(*, clinic: Clinic, **fields: Any) -> Patient:
    return _validated_save(Patient(clinic=clinic), **fields)


@_write
def patient_update(*, patient: Patient, **fields: Any) -> Patient:
    _keep_parent(fields, "clinic")
    return _validated_save(patient, **fields)


@_write
def patient_archive(*, patient: Patient) -> Patient:
    """Archive instead of delete: clinical records are kept."""
    return _validated_save(patient, audit_action=AuditAction.ARCHIVE, archived=True)


@_write
def presentation_create(*, patient: Patient, **fields: Any) -> Presentation:
    Patient.objects.select_for_update().get(pk=patient.pk)
    presentation = _validated_save(Presentation(patient=patient), **fields)
    _plan_follow_ups(presentation, outcomes.PresentationHistory(treatments=(), visits=(), follow_ups=()))
    return presentation


@_write
def presentation_update(*, presentation: Presentation, **fields: Any) -> Presentation:
    _keep_parent(fields, "patient")
    _lock_presentation(presentation)
    (_LOCKED.get() or {}).pop(presentation.pk, None)  # the instance locked before this change is stale now
    presentation = _validated_save(presentation, **fields)
    _plan_follow_ups(presentation, outcomes.presentation_history(presentation.pk, follow_ups=True))
    return presentation


@_write
def visit_record(*, presentation: Presentation, clinician, **fields: Any) -> Visit:
    presentation = _lock_presentation(presentation)
    history = outcomes.presentation_history(presentation.pk)
    _check_clinician(presentation, clinician)
    visit = Visit(presentation=presentation, clinician=clinician)
    visit = _validated_save(visit, verified=_verified(clinician), **fields)
    outcomes.outcome_facts_refresh(presentation_id=presentation.pk, history=history.with_record(visit))
    return visit


@_write
def visit_update(*, visit: Visit, **fields: Any) -> Visit:
    _keep_parent(fields, "presentation")
    presentation = _lock_presentation(visit.presentation)
    history = outcomes.presentation_history(presentation.pk)
    if "clinician" in fields:
        _check_clinician(presentation, fields["clinician"], current=visit.clinician_id)
    # The clinician is either checked above or the one already recorded (users are never deleted under a record).
    visit = _validated_save(visit, verified=("presentation", "clinician"), **fields)
    outcomes.outcome_facts_refresh(presentation_id=presentation.pk, history=history.with_record(visit))
    return visit


@_write
def treatment_start(*, presentation: Presentation, kind: str, clinician, **fields: Any) -> Treatment:
    """Start a treatment; the ladder rules are checked against the presentation's locked history."""
    presentation = _lock_presentation(presentation)
    history = outcomes.presentation_history(presentation.pk, follow_ups=True)
    _check_clinician(presentation, clinician)
    treatment = Treatment(presentation=presentation, kind=kind, clinician=clinician)
    treatment = _validated_save(treatment, verified=_verified(clinician), history=history, **fields)
    history = history.with_record(treatment)
    outcomes.outcome_facts_refresh(presentation_id=presentation.pk, history=history)
    _plan_follow_ups(presentation, history)
    return treatment


@_write
def treatment_update(*, treatment: Treatment, **fields: Any) -> Treatment:
    """Record a response, an end date or corrected details (the ladder re-checks a changed kind or date)."""
    _keep_parent(fields, "presentation")
    presentation = _lock_presentation(treatment.presentation)
    history = outcomes.presentation_history(presentation.pk, follow_ups=True)
    if "clinician" in fields:
        _check_clinician(presentation, fields["clinician"], current=treatment.clinician_id)
    treatment = _validated_save(treatment, verified=("presentation", "clinician"), history=history, **fields)
    history = history.with_record(treatment)
    outcomes.outcome_facts_refresh(presentation_id=presentation.pk, history=history)
    _plan_follow_ups(presentation, history)
    return treatment


@_write
def complication_record(*, treatment: Treatment, **fields: Any) -> Complication:
    _lock_presentation(treatment.presentation)
    return _validated_save(Complication(treatment=treatment), **fields)


@_write
def complication_update(*, complication: Complication, **fields: Any) -> Complication:
    _keep_parent(fields, "treatment")
    _lock_presentation(complication.treatment.presentation)
    return _validated_save(complication, **fields)


@_write
def clinical_record_delete(*, record: Patient | Presentation | Visit | Treatment | Complication) -> None:
    """Delete a clinical record (superusers only, in the admin; patients are normally archived instead).

    The audit event is written first, while the record and its path to the patient still exist; the change
    history keeps the deleted version.
    """
    presentation_id = getattr(record, "presentation_id", None)
    if presentation_id is not None:
        list(Presentation.objects.select_for_update(of=("self",)).filter(pk=presentation_id).values_list("pk"))
    audit_record(action=AuditAction.DELETE, record=record)
    record.delete()
    if presentation_id is not None:
        _refresh_outcomes(presentation_id)


# --- Staff, memberships and API tokens (docs/permissions.md) -----------------------------------------
# Clinic admins manage their own clinics' staff (``selectors.staff_managed_by``); every change is audited
# under the clinics the person works in, with ids only. A clinic always keeps an active clinic admin.

from django.contrib.auth import get_user_model, password_validation  # noqa: E402

from api.models import ApiToken  # noqa: E402

from .choices import Role  # noqa: E402
from .models import Membership  # noqa: E402

STAFF_FIELDS = frozenset({"first_name", "last_name", "email", "is_active"})
PASSWORD_OBJECT_TYPE = "auth.user.password"  # noqa: S105 (an audit record type, not a secret); a password reset: the event names the user, never the password


def _staff_audit(*, action: str, object_type: str, object_id: int, user_id: int) -> None:
    """One event per clinic the person works in, so each clinic's trail shows what changed for its staff."""
    clinic_ids = sorted(Membership.objects.filter(user_id=user_id).values_list("clinic_id", flat=True))
    for clinic_id in clinic_ids or [None]:
        audit_record(action=action, object_type=object_type, object_id=str(object_id), clinic_id=clinic_id)


def _lock_clinics(clinic_ids) -> None:
    """Serialise staff changes per clinic: its row is locked first, in id order, before any membership is read.

    FOR NO KEY UPDATE, so a patient being added to the clinic (which takes a key-share lock on it) never waits.
    """
    list(Clinic.objects.select_for_update(no_key=True).filter(pk__in=list(clinic_ids)).order_by("pk").values("pk"))


def _keep_an_active_clinic_admin(*, clinic_id: int, leaving_user_id: int, field: str) -> None:
    """Refuse a change that would leave the clinic with no active clinic admin (the clinic is locked by the caller)."""
    admins = set(
        Membership.objects.filter(clinic_id=clinic_id, role=Role.CLINIC_ADMIN, user__is_active=True).values_list(
            "user_id", flat=True
        )
    )
    if admins == {leaving_user_id}:
        clinic = Clinic.objects.get(pk=clinic_id)
        raise ValidationError(
            {field: f"{clinic} would have no clinic admin left: make someone else its clinic admin first."}
        )


@transaction.atomic
def staff_member_add(
    *,
    clinic: Clinic,
    role: str,
    username: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
):
    """A new staff member of ``clinic``: a staff account (never a superuser) and its membership, together."""
    user = get_user_model()(
        username=username, first_name=first_name, last_name=last_name, email=email, is_staff=True, is_superuser=False
    )
    try:
        password_validation.validate_password(password, user)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from error
    user.set_password(password)
    user.full_clean()
    user.save()
    membership = Membership(user=user, clinic=clinic, role=role)
    membership.full_clean()
    membership.save()
    _staff_audit(action=AuditAction.CREATE, object_type="auth.user", object_id=user.pk, user_id=user.pk)
    audit_record(
        action=AuditAction.CREATE, object_type="cases.membership", object_id=str(membership.pk), clinic_id=clinic.pk
    )
    return user


@transaction.atomic
def staff_member_update(*, member, **fields: Any):
    """Change a staff member's names, email or whether they may sign in (staff are deactivated, not deleted)."""
    unknown = set(fields) - STAFF_FIELDS
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in sorted(unknown)})
    if fields.get("is_active") is False:
        administered = list(
            Membership.objects.filter(user=member, role=Role.CLINIC_ADMIN).values_list("clinic_id", flat=True)
        )
        _lock_clinics(administered)
        for clinic_id in administered:
            _keep_an_active_clinic_admin(clinic_id=clinic_id, leaving_user_id=member.pk, field="is_active")
    member = get_user_model().objects.select_for_update().get(pk=member.pk)
    changed = {name: value for name, value in fields.items() if getattr(member, name) != value}
    if not changed:
        return member
    for name, value in changed.items():
        setattr(member, name, value)
    member.full_clean()
    member.save(update_fields=list(changed))
    _staff_audit(action=AuditAction.UPDATE, object_type="auth.user", object_id=member.pk, user_id=member.pk)
    return member


@transaction.atomic
def staff_password_set(*, member, password: str):
    """Set a staff member's password (validated by the project's password rules); the event never holds it."""
    try:
        password_validation.validate_password(password, member)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from error
    member.set_password(password)
    member.save(update_fields=["password"])
    _staff_audit(action=AuditAction.UPDATE, object_type=PASSWORD_OBJECT_TYPE, object_id=member.pk, user_id=member.pk)
    return member


def _membership_audit(action: str, membership: Membership) -> None:
    audit_record(
        action=action, object_type="cases.membership", object_id=str(membership.pk), clinic_id=membership.clinic_id
    )


@transaction.atomic
def membership_add(*, clinic: Clinic, user, role: str) -> Membership:
    membership = Membership(clinic=clinic, user=user, role=role)
    membership.full_clean()
    membership.save()
    _membership_audit(AuditAction.CREATE, membership)
    return membership


@transaction.atomic
def membership_set_role(*, membership: Membership, role: str) -> Membership:
    """Change a member's role in the clinic; the clinic's last active clinic admin keeps theirs."""
    _lock_clinics([membership.clinic_id])
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == role:
        return membership
    if membership.role == Role.CLINIC_ADMIN:
        _keep_an_active_clinic_admin(clinic_id=membership.clinic_id, leaving_user_id=membership.user_id, field="role")
    membership.role = role
    membership.full_clean()
    membership.save(update_fields=["role"])
    _membership_audit(AuditAction.UPDATE, membership)
    return membership


@transaction.atomic
def membership_end(*, membership: Membership) -> None:
    """Remove someone from a clinic; the clinic's last active clinic admin stays."""
    _lock_clinics([membership.clinic_id])
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == Role.CLINIC_ADMIN:
        _keep_an_active_clinic_admin(clinic_id=membership.clinic_id, leaving_user_id=membership.user_id, field="role")
    _membership_audit(AuditAction.DELETE, membership)
    membership.delete()


def _token_audit(action: str, token: ApiToken) -> None:
    _staff_audit(action=action, object_type="api.apitoken", object_id=token.pk, user_id=token.user_id)


@transaction.atomic
def api_token_issue(*, user, name: str, scope: str, days: int) -> tuple[ApiToken, str]:
    """Issue a token and return it with its secret: only the digest is stored, and the event names the token's id."""
    if not user.is_active:
        raise ValidationError({"user": "An inactive user cannot be issued a token."})
    token, secret = ApiToken.issue(user=user, name=name, scope=scope, days=days)
    _token_audit(AuditAction.CREATE, token)
    return token, secret


@transaction.atomic
def api_token_revoke(*, tokens) -> int:
    """Revoke the tokens not yet revoked (one event each); returns how many were revoked."""
    revoked = 0
    for token in ApiToken.objects.select_for_update().filter(pk__in=[t.pk for t in tokens], revoked_at__isnull=True):
        token.revoke()
        _token_audit(AuditAction.UPDATE, token)
        revoked += 1
    return revoked


# --- Follow-ups (cases/followups, docs/follow-ups.md) ------------------------------------------------
# Planning, links, answers and sending. The plan itself is pure (cases.followups.schedule); these
# functions reconcile it with the stored rows and are the only writers of follow-up records.


PATIENT_VIA_LINK = "patient via link"  # the audit trail's actor label for an answer given through a link
FOLLOW_UP_RETRY_AFTER = datetime.timedelta(seconds=1)  # a failed send is due again from the next run


def _follow_up_config(clinic_settings) -> dict[str, Any]:
    overrides = clinic_settings.overrides() if clinic_settings is not None else {}
    return {**settings.FOLLOW_UP, **{key: value for key, value in overrides.items() if value is not None}}


def _first_message_at(window_opens_on: datetime.date, clinic: Clinic, conf: dict[str, Any]) -> datetime.datetime:
    return datetime.datetime.combine(
        window_opens_on, datetime.time(conf["SEND_FROM_HOUR"]), tzinfo=zoneinfo.ZoneInfo(clinic.time_zone)
    )


def _follow_up_revoke_links(follow_up: FollowUp, reason: str, now: datetime.datetime) -> None:
    for link in follow_up.links.filter(revoked_at__isnull=True, used_at__isnull=True):
        link.revoked_at, link.revoked_reason = now, reason
        link.save(update_fields=["revoked_at", "revoked_reason"])


@_write
def follow_up_plan(*, presentation: Presentation, today: datetime.date | None = None) -> list[FollowUp]:
    """Bring the presentation's follow-ups in line with its treatments; returns the ones not cancelled.

    Missing time points are created, obsolete unanswered ones cancelled, unanswered ones whose anchor
    moved re-dated (back to ``scheduled`` in the new window, earlier links revoked). Completed and
    declined follow-ups are never touched. A time point whose window had already closed when it was
    first planned (a treatment entered long after the fact) is not created: it could never have been
    asked, and would only count as missed. Closing the presentation (``CANCEL_WHEN_PRESENTATION``)
    cancels every open one.
    """
    presentation = _lock_presentation(presentation)
    _plan_follow_ups(presentation, outcomes.presentation_history(presentation.pk, follow_ups=True), today=today)
    return list(presentation.follow_ups.exclude(status=FollowUpStatus.CANCELLED).order_by("due_on", "pk"))


def _plan_follow_ups(
    presentation: Presentation, history: outcomes.PresentationHistory, *, today: datetime.date | None = None
) -> None:
    """``follow_up_plan`` for a write function that holds the presentation's lock and read its ``history``
    (with its follow-ups, and the record just saved): no read of its own, one INSERT for what is new,
    and the follow-ups that change read and saved one by one (none, when a treatment is added)."""
    clinic = presentation.patient.clinic
    today = today or clinic.today()
    now = timezone.now()
    conf = _follow_up_config(follow_up_selectors.clinic_settings_of(clinic))
    treatments = history.treatments
    first_visit = history.visits[0] if history.visits else None
    wanted: dict[tuple, follow_up_schedule.PlannedFollowUp] = {}
    if presentation.status not in conf["CANCEL_WHEN_PRESENTATION"]:
        planned = follow_up_schedule.plan(
            first_visit_on=first_visit.seen_on if first_visit else presentation.first_seen_on,
            treatments=treatments,
            conf=follow_up_schedule.ScheduleSettings.from_settings(conf),
        )
        wanted = {p.key: p for p in planned}
    clinician_of = {treatment.pk: treatment.clinician_id for treatment in treatments}
    baseline_clinician = (
        first_visit.clinician_id if first_visit else (treatments[0].clinician_id if treatments else None)
    )
    existing = {row.key: row for row in history.follow_ups}

    def clinician_for(key) -> int | None:
        return baseline_clinician if key[1] is None else clinician_of.get(key[1])

    def dates_of(item) -> tuple[datetime.date, datetime.date, datetime.date]:
        return (item.due_on, item.window_opens_on, item.window_closes_on)

    changing = {
        row.pk: row.key
        for row in existing.values()
        if row.status not in follow_up_transitions.ANSWERED_STATUSES
        and (
            row.key not in wanted
            or dates_of(wanted[row.key]) != dates_of(row)
            or clinician_for(row.key) != row.clinician_id
        )
    }
    for follow_up in FollowUp.objects.filter(pk__in=changing) if changing else ():
        key = changing[follow_up.pk]
        planned = wanted.get(key)
        if planned is None:
            follow_up_transitions.move(follow_up, FollowUpStatus.CANCELLED, at=now)
            follow_up.next_message_at = None
            _follow_up_revoke_links(follow_up, "The follow-up was cancelled.", now)
            follow_up.save()
            continue
        if dates_of(planned) != dates_of(follow_up):
            follow_up.due_on, follow_up.window_opens_on, follow_up.window_closes_on = dates_of(planned)
            # Asked afresh in the new window: back to scheduled, then wherever the dates put it.
            follow_up_transitions.move(follow_up, FollowUpStatus.SCHEDULED, at=now)
            follow_up_transitions.move(
                follow_up,
                follow_up_transitions.status_by_date(
                    due_on=planned.due_on, window_closes_on=planned.window_closes_on, today=today
                ),
                at=now,
            )
            follow_up.messages_sent = 0
            follow_up.next_message_at = (
                None
                if follow_up.status == FollowUpStatus.MISSED
                else _first_message_at(planned.window_opens_on, clinic, conf)
            )
            _follow_up_revoke_links(follow_up, "The follow-up was re-dated.", now)
        follow_up.clinician_id = clinician_for(key)
        follow_up.save()

    new = [
        FollowUp(
            presentation=presentation,
            treatment_id=planned.treatment_id,
            clinician_id=clinician_for(key),
            time_point=planned.time_point,
            due_on=planned.due_on,
            window_opens_on=planned.window_opens_on,
            window_closes_on=planned.window_closes_on,
            status=follow_up_transitions.status_by_date(
                due_on=planned.due_on, window_closes_on=planned.window_closes_on, today=today
            ),
            status_changed_at=now,
            next_message_at=_first_message_at(planned.window_opens_on, clinic, conf),
        )
        for key, planned in wanted.items()
        if key not in existing and planned.window_closes_on >= today
    ]
    if new:
        FollowUp.objects.bulk_create(new)


def _lock_follow_up(follow_up: FollowUp) -> FollowUp:
    return (
        FollowUp.objects.select_for_update(of=("self",))
        .select_related("presentation__patient__clinic")
        .get(pk=follow_up.pk)
    )


def _refusal(field: str, message: str, code: str) -> ValidationError:
    # The code on the field's own error: Django drops a code given beside a dict of messages.
    return ValidationError({field: ValidationError(message, code=code)})


def _refuse_outside_window(follow_up: FollowUp, what: str, on: datetime.date | None = None) -> None:
    today = on or follow_up.presentation.patient.clinic.today()
    opens, closes = follow_up.window_opens_on.isoformat(), follow_up.window_closes_on.isoformat()
    if today < follow_up.window_opens_on:
        raise _refusal(
            "follow_up", f"This follow-up's window opens on {opens}: it cannot {what} yet.", "follow_up_not_open"
        )
    if today > follow_up.window_closes_on:
        raise _refusal(
            "follow_up", f"This follow-up's window closed on {closes}: it cannot {what}.", "follow_up_closed"
        )


def _refuse_unless_open(follow_up: FollowUp, what: str) -> None:
    if follow_up_links.has_answer(follow_up):
        raise _refusal("follow_up", "This follow-up has already been answered.", "follow_up_answered")
    if follow_up.status not in follow_up_transitions.OPEN_STATUSES:
        raise _refusal(
            "follow_up",
            f"This follow-up is {follow_up.get_status_display().lower()}: it cannot {what}.",
            "follow_up_closed",
        )


@transaction.atomic
def follow_up_link_issue(*, follow_up: FollowUp, issued_by=None) -> tuple[FollowUpLink, str]:
    """A new one-time link for an open follow-up: the link and its token (shown once, never stored)."""
    follow_up = _lock_follow_up(follow_up)
    _refuse_unless_open(follow_up, "get a link")
    _refuse_outside_window(follow_up, "get a link")
    clinic = follow_up.presentation.patient.clinic
    token = follow_up_links.new_token()
    link = FollowUpLink.objects.create(
        follow_up=follow_up,
        token_digest=follow_up_links.digest(token),
        expires_at=follow_up_links.expires_at(follow_up.window_closes_on, clinic.time_zone),
        issued_by=issued_by,
    )
    audit_record(action=AuditAction.CREATE, record=link)
    return link, token


@transaction.atomic
def follow_up_link_revoke(*, link: FollowUpLink, reason: str) -> FollowUpLink:
    """Revoke a link (it then opens nothing and says so); the reason is kept for staff."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the link is revoked."}, code="required")
    link = FollowUpLink.objects.select_for_update().get(pk=link.pk)
    if link.revoked_at is None:
        link.revoked_at, link.revoked_reason = timezone.now(), reason[:200]
        link.save(update_fields=["revoked_at", "revoked_reason"])
        audit_record(action=AuditAction.UPDATE, record=link)
    return link


@dataclasses.dataclass(frozen=True)
class BirthDateCheck:
    confirmed: bool
    attempts_left: int
    locked: bool


@transaction.atomic
def follow_up_link_confirm(*, link: FollowUpLink, birth_date: datetime.date) -> BirthDateCheck:
    """Count one birth-date attempt on a link; the limit (``BIRTH_DATE_ATTEMPTS``) locks it for good."""
    link = FollowUpLink.objects.select_for_update().select_related("follow_up__presentation__patient").get(pk=link.pk)
    limit = settings.FOLLOW_UP["BIRTH_DATE_ATTEMPTS"]
    now = timezone.now()
    if follow_up_links.link_state(link, now=now) != follow_up_links.LinkState.OPEN:
        # A closed link counts nothing and confirms nothing; the page says why it is closed.
        return BirthDateCheck(confirmed=False, attempts_left=0, locked=link.locked_at is not None)
    if birth_date == link.follow_up.presentation.patient.birth_date:
        link.confirmed_at = link.confirmed_at or now
        link.save(update_fields=["confirmed_at"])
        return BirthDateCheck(confirmed=True, attempts_left=limit - link.birth_date_attempts, locked=False)
    link.birth_date_attempts += 1
    if link.birth_date_attempts >= limit:
        link.locked_at = now
    link.save(update_fields=["birth_date_attempts", "locked_at"])
    return BirthDateCheck(
        confirmed=False, attempts_left=max(limit - link.birth_date_attempts, 0), locked=link.locked_at is not None
    )


@transaction.atomic
def follow_up_answer_record(
    *,
    follow_up: FollowUp,
    channel: str,
    pain_walking: int,
    pain_rest: int,
    relief: str,
    global_impression: int,
    moxfq_items: list[int | None] | None = None,
    recorded_by=None,
    link: FollowUpLink | None = None,
    moxfq_walking_standing: Any = None,
    moxfq_pain: Any = None,
    moxfq_social: Any = None,
    answered_at: datetime.datetime | None = None,
) -> FollowUpAnswer:
    """Record a follow-up's answer (once: a second one is refused and writes nothing) and complete it.

    ``channel`` is ``link`` (the patient, through ``link``) or ``in_clinic_tablet`` / ``phone`` (staff,
    ``recorded_by``). MOxFQ comes either as item answers, scored here against the clinic's licensed
    form, or as the three domain scores a clinician entered (``moxfq_walking_standing``, ``moxfq_pain``,
    ``moxfq_social``); never both. ``answered_at`` dates an answer staff took earlier (a paper form, a
    call yesterday): never in the future, and its day must fall in the window; it defaults to now, and
    an answer through the link is always dated when it is given.
    """
    follow_up = _lock_follow_up(follow_up)
    _refuse_unless_open(follow_up, "be answered")
    clinic = follow_up.presentation.patient.clinic
    now = timezone.now()
    if answered_at is not None:
        if channel == AnswerChannel.LINK:
            raise ValidationError({"answered_at": "An answer through the link is dated when it is given."})
        if answered_at > now:
            raise ValidationError({"answered_at": "An answer cannot be dated in the future."}, code="invalid")
    answered_at = answered_at or now
    answered_on = timezone.localdate(answered_at, zoneinfo.ZoneInfo(clinic.time_zone))
    _refuse_outside_window(follow_up, "be answered", on=answered_on)
    moxfq_scores = {
        "moxfq_walking_standing": moxfq_walking_standing,
        "moxfq_pain": moxfq_pain,
        "moxfq_social": moxfq_social,
    }
    if channel == AnswerChannel.LINK:
        if link is None or link.follow_up_id != follow_up.pk:
            raise ValidationError({"link": "An answer through a link needs that follow-up's link."}, code="invalid")
        if follow_up_links.link_state(link, now=timezone.now()) != follow_up_links.LinkState.OPEN:
            raise _refusal("link", "This link no longer opens the questions.", "link_closed")
        recorded_by = None
    elif recorded_by is None:
        raise ValidationError({"recorded_by": "Say who recorded the answer."}, code="required")
    if moxfq_items is not None:
        if any(value is not None for value in moxfq_scores.values()):
            raise ValidationError(
                {"moxfq_items": "Give MOxFQ item answers or domain scores, not both."}, code="invalid"
            )
        try:
            form = follow_up_scoring.load_form(
                follow_up_scoring.items_file_for(clinic, follow_up_selectors.clinic_settings_of(clinic))
            )
        except ImproperlyConfigured as error:
            raise ValidationError({"moxfq_items": f"This clinic's MOxFQ item file cannot be used: {error}"}) from error
        if form is None:
            raise ValidationError(
                {"moxfq_items": "This clinic has not configured its licensed MOxFQ item texts."}, code="invalid"
            )
        if len(moxfq_items) != len(form.items) or any(
            value is not None and (not isinstance(value, int) or not 0 <= value <= 4) for value in moxfq_items
        ):
            raise ValidationError(
                {"moxfq_items": f"Give {len(form.items)} item answers, each 0–4 or empty."}, code="invalid"
            )
        moxfq_scores = follow_up_scoring.domain_scores(form.domains, moxfq_items)
    answer = FollowUpAnswer(
        follow_up=follow_up,
        channel=channel,
        answered_at=answered_at,
        answered_on=answered_on,
        recorded_by=recorded_by,
        link=link if channel == AnswerChannel.LINK else None,
        pain_walking=pain_walking,
        pain_rest=pain_rest,
        relief=relief,
        global_impression=global_impression,
        moxfq_items=moxfq_items,
        **moxfq_scores,
    )
    answer.full_clean(exclude=["follow_up"])
    answer.save()
    follow_up_transitions.move(follow_up, FollowUpStatus.COMPLETED, at=now)
    follow_up.next_message_at = None
    follow_up.save(update_fields=["status", "status_changed_at", "next_message_at", "updated_at"])
    if link is not None and channel == AnswerChannel.LINK:
        link.used_at = now
        link.save(update_fields=["used_at"])
        audit_record(action=AuditAction.CREATE, record=answer, user=None, label=PATIENT_VIA_LINK, via=AuditVia.PAGE)
    else:
        audit_record(action=AuditAction.CREATE, record=answer, user=recorded_by)
    return answer


@transaction.atomic
def follow_up_decline(*, follow_up: FollowUp, recorded_by) -> FollowUp:
    """Record that the patient declined to answer this follow-up (no further messages)."""
    follow_up = _lock_follow_up(follow_up)
    _refuse_unless_open(follow_up, "be declined")
    follow_up_transitions.move(follow_up, FollowUpStatus.DECLINED)
    follow_up.next_message_at = None
    _follow_up_revoke_links(follow_up, "The patient declined.", timezone.now())
    follow_up.save()
    audit_record(action=AuditAction.UPDATE, record=follow_up, user=recorded_by)
    return follow_up


@transaction.atomic
def follow_up_resend(*, follow_up: FollowUp) -> FollowUp:
    """Staff's one-click resend: the next sending run sends a message now (beyond the reminder cap, once)."""
    follow_up = _lock_follow_up(follow_up)
    _refuse_unless_open(follow_up, "be sent")
    _refuse_outside_window(follow_up, "be sent")
    follow_up.next_message_at = timezone.now()
    follow_up.save(update_fields=["next_message_at", "updated_at"])
    audit_record(action=AuditAction.UPDATE, record=follow_up)
    return follow_up


def follow_up_statuses_refresh(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Move open follow-ups to ``overdue`` / ``missed`` by each clinic's today (one UPDATE per zone and status)."""
    now = now or timezone.now()
    moved = {FollowUpStatus.MISSED: 0, FollowUpStatus.OVERDUE: 0}
    for time_zone in Clinic.objects.order_by().values_list("time_zone", flat=True).distinct():
        today = timezone.localdate(now, zoneinfo.ZoneInfo(time_zone))
        in_zone = FollowUp.objects.filter(presentation__patient__clinic__time_zone=time_zone)
        moved[FollowUpStatus.MISSED] += in_zone.filter(
            status__in=follow_up_transitions.sources_of(FollowUpStatus.MISSED), window_closes_on__lt=today
        ).update(status=FollowUpStatus.MISSED, status_changed_at=now, next_message_at=None)
        moved[FollowUpStatus.OVERDUE] += in_zone.filter(
            status__in=follow_up_transitions.sources_of(FollowUpStatus.OVERDUE), due_on__lt=today
        ).update(status=FollowUpStatus.OVERDUE, status_changed_at=now)
    return moved


@dataclasses.dataclass
class FollowUpSendResult:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    batches: int = 0


def follow_up_send_due(*, now: datetime.datetime | None = None, batch_size: int | None = None) -> FollowUpSendResult:
    """Send every follow-up message due at ``now``, batch by batch; safe to run twice at once.

    Each batch claims its rows inside one transaction (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL,
    so a second run takes other rows; on SQLite a first write takes the database's write lock, so a
    second run waits and then sees these rows as sent). Every attempt is recorded as a
    ``FollowUpMessage``; a failed one is due again from the next run, never lost. A message that was
    delivered but whose transaction then failed to commit would be sent again: at least once, never
    silently dropped.
    """
    now = now or timezone.now()
    batch_size = batch_size or settings.FOLLOW_UP["BATCH_SIZE"]
    result = FollowUpSendResult()
    follow_up_statuses_refresh(now=now)
    while True:
        claimed = _follow_up_send_batch(now=now, batch_size=batch_size, result=result)
        if not claimed:
            return result
        result.batches += 1


@transaction.atomic
def _follow_up_send_batch(*, now: datetime.datetime, batch_size: int, result: FollowUpSendResult) -> int:
    if connection.vendor == "sqlite":
        # Take SQLite's write lock before reading (an UPDATE that matches nothing still takes it).
        FollowUp.objects.filter(pk=-1).update(next_message_at=None)
    sms = follow_up_messaging.sms_sender()
    rows = list(
        follow_up_selectors.due_for_sending(now=now, with_sms=sms is not None)
        .select_related("presentation__patient__clinic__follow_up_settings")
        .select_for_update(skip_locked=True, of=("self",))[:batch_size]
    )
    if not rows:
        return 0
    outgoing, pending, closed, early = [], [], [], []
    for follow_up in rows:
        patient = follow_up.presentation.patient
        clinic = patient.clinic
        today = clinic.today()
        address = follow_up_messaging.channel_for(email=patient.email, phone=patient.phone, sms=sms)
        if today < follow_up.window_opens_on:
            early.append(follow_up)  # not yet: due again when its window opens
            continue
        if today > follow_up.window_closes_on or address is None:
            closed.append(follow_up.pk)  # nothing to send in this window (the refresh marks it missed)
            continue
        token = follow_up_links.new_token()
        link = FollowUpLink(
            follow_up=follow_up,
            token_digest=follow_up_links.digest(token),
            expires_at=follow_up_links.expires_at(follow_up.window_closes_on, clinic.time_zone),
        )
        kind = MessageKind.FIRST if follow_up.messages_sent == 0 else MessageKind.REMINDER
        subject, body = follow_up_messaging.compose(
            clinic_name=clinic.name,
            url=follow_up_links.url_for(token),
            valid_until=follow_up.window_closes_on,
            reminder=kind == MessageKind.REMINDER,
        )
        outgoing.append(follow_up_messaging.Outgoing(channel=address[0], to=address[1], subject=subject, body=body))
        pending.append((follow_up, link, kind))
    errors = follow_up_messaging.deliver(outgoing)
    sent_at = timezone.now()
    delivered = [
        (follow_up, link, kind) for (follow_up, link, kind), error in zip(pending, errors, strict=True) if not error
    ]
    FollowUpLink.objects.bulk_create([link for _, link, _ in delivered])
    FollowUpMessage.objects.bulk_create(
        [
            FollowUpMessage(
                follow_up=follow_up,
                link=link if not error else None,
                channel=message.channel,
                kind=kind,
                attempted_at=sent_at,
                sent_at=None if error else sent_at,
                error=error,
            )
            for (follow_up, link, kind), message, error in zip(pending, outgoing, errors, strict=True)
        ]
    )
    failed = [follow_up.pk for (follow_up, _, _), error in zip(pending, errors, strict=True) if error]
    if failed:
        FollowUp.objects.filter(pk__in=failed).update(next_message_at=now + FOLLOW_UP_RETRY_AFTER)
    if closed:
        FollowUp.objects.filter(pk__in=closed).update(next_message_at=None)
    for follow_up in early:  # only after a hand-made next_message_at: planning never sets one before the window
        conf = _follow_up_config(getattr(follow_up.presentation.patient.clinic, "follow_up_settings", None))
        follow_up.next_message_at = _first_message_at(
            follow_up.window_opens_on, follow_up.presentation.patient.clinic, conf
        )
        follow_up.save(update_fields=["next_message_at", "updated_at"])
    # The next reminder: after the cadence, while under the cap and inside the window; rows sharing a
    # value are updated together, so a batch costs the same few queries whatever its size.
    next_at: dict[datetime.datetime | None, list[int]] = defaultdict(list)
    for follow_up, link, _ in delivered:
        conf = _follow_up_config(getattr(follow_up.presentation.patient.clinic, "follow_up_settings", None))
        candidate = now + datetime.timedelta(days=conf["REMINDER_EVERY_DAYS"])
        last_allowed = follow_up.messages_sent >= conf["REMINDER_CAP"]  # this send was the last reminder
        next_at[None if last_allowed or candidate >= link.expires_at else candidate].append(follow_up.pk)
    for value, ids in next_at.items():
        FollowUp.objects.filter(pk__in=ids).update(messages_sent=F("messages_sent") + 1, next_message_at=value)
    sent_ids = [follow_up.pk for follow_up, _, _ in delivered]
    if sent_ids:
        FollowUp.objects.filter(
            pk__in=sent_ids, status__in=follow_up_transitions.sources_of(FollowUpStatus.SENT)
        ).update(status=FollowUpStatus.SENT, status_changed_at=sent_at)
    result.sent += len(delivered)
    result.failed += len(failed)
    result.skipped += len(closed) + len(early)
    return len(rows)
