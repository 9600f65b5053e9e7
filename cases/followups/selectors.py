"""Reads of the follow-up loop shared by the sending run, the patient page, the admin and the API."""

from __future__ import annotations

import datetime

from django.db.models import Count, Max, Q, QuerySet

from .links import digest
from .models import ClinicFollowUpSettings, FollowUp, FollowUpLink
from .transitions import OPEN_STATUSES


def clinic_settings_of(clinic) -> ClinicFollowUpSettings | None:
    """The clinic's own follow-up settings, or None when it keeps the deployment's defaults.

    Read with the clinic when it was (``select_related("…clinic__follow_up_settings")``, as the services'
    presentation lock does); otherwise read now, never from an earlier access's cache.
    """
    if ClinicFollowUpSettings.clinic.field.remote_field.is_cached(clinic):
        return clinic.follow_up_settings if hasattr(clinic, "follow_up_settings") else None
    return ClinicFollowUpSettings.objects.filter(clinic=clinic).first()


def link_for_token(token: str) -> FollowUpLink | None:
    """The link a token opens, with what the page needs in the same query, or None.

    Only the digest is compared, so the lookup reveals nothing a stored digest would not; the link
    found carries its own follow-up, patient and clinic, so one clinic's token can only ever reach
    that clinic's patient.
    """
    if not token or len(token) > 100:
        return None
    return (
        FollowUpLink.objects.select_related("follow_up__presentation__patient__clinic", "follow_up__answer")
        .filter(token_digest=digest(token))
        .first()
    )


def due_for_sending(*, now: datetime.datetime, with_sms: bool) -> QuerySet[FollowUp]:
    """Follow-ups whose next message is due: still open, the patient reachable and not archived."""
    reachable = Q(presentation__patient__email__gt="")
    if with_sms:
        reachable |= Q(presentation__patient__phone__gt="")
    return (
        FollowUp.objects.filter(
            status__in=OPEN_STATUSES, next_message_at__lte=now, presentation__patient__archived=False
        )
        .filter(reachable)
        .order_by("next_message_at", "pk")
    )


def overdue_list(*, clinics, today: datetime.date) -> QuerySet[FollowUp]:
    """Follow-ups past their due date whose window is still open and that nobody has answered.

    Each row carries ``reminders_sent`` (reminders delivered) and ``last_sent_at``, for the staff list
    with its one-click resend (``cases.services.follow_up_resend``).
    """
    return (
        FollowUp.objects.in_clinics(clinics)
        .filter(status__in=OPEN_STATUSES, due_on__lt=today, window_opens_on__lte=today, window_closes_on__gte=today)
        .select_related("presentation__patient", "treatment")
        .annotate(
            reminders_sent=Count("messages", filter=Q(messages__kind="reminder", messages__sent_at__isnull=False)),
            last_sent_at=Max("messages__sent_at"),
        )
        .order_by("due_on", "pk")
    )


def follow_ups_of(presentation) -> QuerySet[FollowUp]:
    """A presentation's follow-ups (cancelled ones too), oldest due first, with their answers."""
    return presentation.follow_ups.select_related("answer", "treatment").order_by("due_on", "pk")


def follow_up_list(
    *,
    clinics,
    statuses: list[str] | None = None,
    due_from: datetime.date | None = None,
    due_to: datetime.date | None = None,
    presentation_id: int | None = None,
    patient_id: int | None = None,
    clinician_id: int | None = None,
) -> QuerySet[FollowUp]:
    """The clinics' follow-ups with the filters the API offers, each row with its answer and messages counted."""
    queryset = FollowUp.objects.in_clinics(clinics)
    if statuses:
        queryset = queryset.filter(status__in=statuses)
    if due_from is not None:
        queryset = queryset.filter(due_on__gte=due_from)
    if due_to is not None:
        queryset = queryset.filter(due_on__lte=due_to)
    if presentation_id is not None:
        queryset = queryset.filter(presentation_id=presentation_id)
    if patient_id is not None:
        queryset = queryset.filter(presentation__patient_id=patient_id)
    if clinician_id is not None:
        queryset = queryset.filter(clinician_id=clinician_id)
    return (
        queryset.select_related("presentation__patient", "treatment", "answer")
        .annotate(messages_delivered=Count("messages", filter=Q(messages__sent_at__isnull=False)))
        .order_by("due_on", "pk")
    )
