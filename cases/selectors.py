"""Reads shared by the admin, the API, reports and commands: who may see which clinic, and case lists."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from enum import StrEnum

from django.db import models
from django.db.models import Prefetch, QuerySet

from . import ladder
from .choices import PresentationStatus, Role
from .models import Clinic, Complication, Membership, Presentation, Treatment, Visit

WRITE_ROLES = frozenset({Role.PODIATRIST, Role.CLINIC_ADMIN})


def clinic_id_of(record: models.Model) -> int:
    """The id of the clinic a clinical record belongs to, by walking its model's ``CLINIC_PATH``."""
    *hops, last = record.CLINIC_PATH.split("__")
    for hop in hops:
        record = getattr(record, hop)
    return getattr(record, f"{last}_id")


def patient_id_of(record: models.Model) -> int:
    """The id of the patient a clinical record belongs to (a patient's own id), along the same path."""
    *hops, _clinic = record.CLINIC_PATH.split("__")
    if not hops:
        return record.pk
    *walk, last = hops
    for hop in walk:
        record = getattr(record, hop)
    return getattr(record, f"{last}_id")


def clinic_roles(user) -> dict[int, str]:
    """The user's role in each of their clinics, by clinic id; cached on the user object per request."""
    if not getattr(user, "is_authenticated", False):
        return {}
    cached = getattr(user, "_clinic_roles", None)
    if cached is None:
        cached = dict(Membership.objects.filter(user=user).values_list("clinic_id", "role"))
        user._clinic_roles = cached
    return cached


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


class TimelineEventKind(StrEnum):
    # In this order on the same day: a treatment starts at the visit that decided it, and ends last.
    TREATMENT_STARTED = "treatment_started"
    VISIT = "visit"
    RESPONSE_ASSESSED = "response_assessed"
    COMPLICATION = "complication"
    TREATMENT_ENDED = "treatment_ended"


_SAME_DAY_ORDER = {kind: position for position, kind in enumerate(TimelineEventKind)}


@dataclass(frozen=True)
class TimelineEvent:
    date: datetime.date
    event: TimelineEventKind
    id: int
    summary: str


@dataclass(frozen=True)
class PainPoint:
    date: datetime.date
    pain_walking: int
    pain_rest: int


@dataclass(frozen=True)
class Timeline:
    presentation_id: int
    events: list[TimelineEvent]
    pain_trajectory: list[PainPoint]


def presentation_timeline(presentation: Presentation) -> Timeline:
    """A presentation's visits, treatments (start, response, end) and complications in date order, in three queries.

    The pain trajectory is the visits' walking and rest pain, in the order they were seen.
    """
    visits = list(presentation.visits.order_by("seen_on", "pk"))
    treatments = presentation.treatments.order_by("started_on", "pk").prefetch_related(
        Prefetch("complications", queryset=Complication.objects.order_by("occurred_on", "pk"))
    )
    events = [
        TimelineEvent(
            v.seen_on, TimelineEventKind.VISIT, v.pk, f"Pain {v.pain_walking}/10 walking, {v.pain_rest}/10 at rest"
        )
        for v in visits
    ]
    for t in treatments:
        label = t.get_kind_display()
        events.append(TimelineEvent(t.started_on, TimelineEventKind.TREATMENT_STARTED, t.pk, f"{label} started"))
        if t.response_assessed_on:
            response = t.get_response_display().lower()
            events.append(
                TimelineEvent(t.response_assessed_on, TimelineEventKind.RESPONSE_ASSESSED, t.pk, f"{label}: {response}")
            )
        if t.ended_on:
            events.append(TimelineEvent(t.ended_on, TimelineEventKind.TREATMENT_ENDED, t.pk, f"{label} ended"))
        events.extend(
            TimelineEvent(
                c.occurred_on, TimelineEventKind.COMPLICATION, c.pk, f"{c.get_kind_display()} after {label.lower()}"
            )
            for c in t.complications.all()
        )
    events.sort(key=lambda e: (e.date, _SAME_DAY_ORDER[e.event], e.id))
    return Timeline(
        presentation_id=presentation.pk,
        events=events,
        pain_trajectory=[PainPoint(v.seen_on, v.pain_walking, v.pain_rest) for v in visits],
    )
