"""Reads shared by the admin, the API, reports and commands: who may see which clinic, and case lists."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db import models
from django.db.models import Prefetch, QuerySet

from . import ladder
from .choices import PresentationStatus, Role
from .models import Clinic, Presentation, Treatment, Visit
from .scoping import clinic_id_of, clinic_roles, patient_id_of  # noqa: F401  (part of the read API)

WRITE_ROLES = frozenset({Role.PODIATRIST, Role.CLINIC_ADMIN})


def clinics_for(user) -> QuerySet[Clinic]:
    """The clinics whose records the user may see: all of them for a superuser."""
    if getattr(user, "is_superuser", False):
        return Clinic.objects.all()
    return Clinic.objects.filter(pk__in=list(clinic_roles(user)))


def clinic_ids_for(user, *, roles: frozenset[str] | None = None) -> list[int] | None:
    """Ids of the user's clinics (optionally only where they hold one of ``roles``); None means every clinic."""
    if getattr(user, "is_superuser", False):
        return None
    return [clinic_id for clinic_id, role in clinic_roles(user).items() if roles is None or role in roles]


def scope(queryset: QuerySet, user, *, roles: frozenset[str] | None = None) -> QuerySet:
    """Restrict any clinic-scoped queryset to what ``user`` may see (or hold ``roles`` in)."""
    clinic_ids = clinic_ids_for(user, roles=roles)
    return queryset if clinic_ids is None else queryset.in_clinics(clinic_ids)


def can_write(user, clinic_id: int | None = None) -> bool:
    """Podiatrists and clinic admins write; reviewers only read."""
    if getattr(user, "is_superuser", False):
        return True
    roles = clinic_roles(user)
    if clinic_id is None:
        return any(role in WRITE_ROLES for role in roles.values())
    return roles.get(clinic_id) in WRITE_ROLES


def is_clinic_admin(user) -> bool:
    return getattr(user, "is_superuser", False) or Role.CLINIC_ADMIN in clinic_roles(user).values()


def treating_clinicians(*, clinic_id: int, presentation: Presentation | None = None) -> QuerySet:
    """Who may be recorded as a record's treating clinician: the clinic's active podiatrists and clinic admins.

    Reviewers read only, and a user outside the clinic (a superuser included) treats nobody there. On an
    existing presentation, whoever is already recorded on it stays valid after leaving the clinic, so a staff
    change never blocks correcting an old visit or treatment. The admin's choices, the API's field and the
    services' check all ask this one question.
    """
    from django.contrib.auth import get_user_model

    members = models.Q(
        is_active=True,
        memberships__clinic_id=clinic_id,
        memberships__role__in=WRITE_ROLES,
    )
    if presentation is not None and presentation.pk is not None:
        members |= models.Q(pk__in=Visit.objects.filter(presentation=presentation).values("clinician"))
        members |= models.Q(pk__in=Treatment.objects.filter(presentation=presentation).values("clinician"))
    return get_user_model().objects.filter(members).distinct().order_by("last_name", "first_name", "username")


def presentation_list(*, user) -> QuerySet[Presentation]:
    """Presentations the user may see, annotated with current rung, last visit and latest pain."""
    return scope(Presentation.objects.with_summary().select_related("patient", "patient__clinic"), user)


@dataclass
class ReviewEntry:
    presentation: Presentation
    recommendation: ladder.Recommendation
    skipped: list[Treatment] = field(default_factory=list)


@dataclass
class ProgressionReview:
    due_for_escalation: list[ReviewEntry]
    stalled: list[ReviewEntry]
    skipped_rungs: list[ReviewEntry]
    worsening: list[ReviewEntry]


def progression_review(*, user, today: datetime.date | None = None) -> ProgressionReview:
    """Active cases that need a clinic admin's attention, in three fixed queries whatever their number."""
    presentations = (
        scope(Presentation.objects.filter(status=PresentationStatus.ACTIVE), user)
        .select_related("patient", "patient__clinic")
        .prefetch_related(
            Prefetch("treatments", queryset=Treatment.objects.order_by("started_on", "pk")),
            Prefetch("visits", queryset=Visit.objects.order_by("seen_on", "pk")),
        )
        .order_by("patient__family_name", "patient__given_name", "pk")
    )
    review = ProgressionReview([], [], [], [])
    for presentation in presentations:
        treatments = list(presentation.treatments.all())
        recommendation = ladder.recommend(
            treatments=treatments,
            visits=list(presentation.visits.all()),
            today=today or presentation.patient.clinic.today(),
        )
        entry = ReviewEntry(presentation, recommendation, ladder.skipped_rungs(treatments))
        if recommendation.action in (ladder.Action.ESCALATE, ladder.Action.CONSIDER_SURGERY) and treatments:
            review.due_for_escalation.append(entry)
        if recommendation.stalled:
            review.stalled.append(entry)
        if entry.skipped:
            review.skipped_rungs.append(entry)
        if recommendation.worsening:
            review.worsening.append(entry)
    return review
