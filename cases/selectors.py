"""Reads shared by the admin, the API, reports and commands: who may see which clinic, and case lists."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from django.db import models
from django.db.models import Prefetch, QuerySet

from . import ladder
from .choices import PresentationStatus, Role
from .models import Clinic, Complication, Membership, Presentation, Treatment, Visit
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


def staff_managed_by(user) -> QuerySet:
    """The staff whose accounts, memberships and API tokens ``user`` may manage: every user, for a superuser.

    A clinic admin manages a user only if that user works in at least one clinic the admin administers and in
    none that they do not: resetting a password or issuing a token then never opens another clinic's records.
    Superusers are never managed by a clinic admin, and neither is anyone in no clinic (who could be anybody's).
    Every staff page and every staff service asks this one question.
    """
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.all()
    administered = clinic_ids_for(user, roles=frozenset({Role.CLINIC_ADMIN}))
    if administered is None:
        return users
    elsewhere = Membership.objects.exclude(clinic_id__in=administered).values("user_id")
    here = Membership.objects.filter(clinic_id__in=administered).values("user_id")
    return users.filter(is_superuser=False, pk__in=here).exclude(pk__in=elsewhere)


def treating_clinicians(*, clinic_ids: Iterable[int] | None, presentation: Presentation | None = None) -> QuerySet:
    """Who may be recorded as a record's treating clinician: the active podiatrists and clinic admins of its clinic.

    Reviewers read only, and a user outside the clinic (a superuser included) treats nobody there. Before the
    record's clinic is known, ``clinic_ids`` are the clinics the caller writes in (None: every clinic). On an
    existing presentation, whoever is already recorded on it stays valid after leaving the clinic, so a staff
    change never blocks correcting an old visit or treatment. The admin's choices, the API's field and the
    services' check all ask this one question.
    """
    from django.contrib.auth import get_user_model

    members = models.Q(is_active=True, memberships__role__in=WRITE_ROLES)
    if clinic_ids is not None:
        members &= models.Q(memberships__clinic_id__in=list(clinic_ids))
    if presentation is not None and presentation.pk is not None:
        members |= models.Q(pk__in=Visit.objects.filter(presentation=presentation).values("clinician"))
        members |= models.Q(pk__in=Treatment.objects.filter(presentation=presentation).values("clinician"))
    return get_user_model().objects.filter(members).distinct().order_by("last_name", "first_name", "username")


def presentation_list(*, user) -> QuerySet[Presentation]:
    """Presentations the user may see, annotated with current rung, last visit and latest pain."""
    return scope(Presentation.objects.with_summary().select_related("patient", "patient__clinic"), user)


class ReviewReason(StrEnum):
    """Why a case is on the progression review; one case may have several."""

    DUE_FOR_ESCALATION = "due_for_escalation"
    STALLED = "stalled"
    SKIPPED_RUNG = "skipped_rung"
    WORSENING = "worsening"
    LOST_TO_FOLLOW_UP = "lost_to_follow_up"

    @property
    def label(self) -> str:
        return REVIEW_REASON_LABELS[self]


REVIEW_REASON_LABELS: dict[ReviewReason, str] = {
    ReviewReason.DUE_FOR_ESCALATION: "Due for escalation",
    ReviewReason.STALLED: "Stalled: no response recorded after the trial",
    ReviewReason.SKIPPED_RUNG: "Skipped rung",
    ReviewReason.WORSENING: "Worsening",
    ReviewReason.LOST_TO_FOLLOW_UP: "Lost to follow-up",
}

# The orders the review's form offers; any of their keys with a leading "-" reverses it. Ties keep patient order.
REVIEW_SORTS: dict[str, str] = {
    "patient": "Patient",
    "-rung": "Current rung, highest first",
    "rung": "Current rung, lowest first",
    "clinician": "Treating clinician",
    "last_seen": "Longest unseen first",
}
_SORT_KEYS = frozenset(key.removeprefix("-") for key in REVIEW_SORTS)


@dataclass(frozen=True)
class ReviewEntry:
    """One case on the progression review, with every reason it is there.

    ``clinician`` is the treating clinician: the one who started the current treatment (the one the
    recommendation judges). ``skipped`` are the treatments started more than one rung up.
    """

    presentation: Presentation
    recommendation: ladder.Recommendation
    reasons: tuple[ReviewReason, ...]
    skipped: tuple[Treatment, ...] = ()
    current_step: int | None = None
    clinician: object | None = None

    @property
    def rung(self) -> int | float | None:
        """The current rung's public number (1–4, 3.5 for an alternative), None before any treatment."""
        return ladder.rung_of_step(self.current_step)

    @property
    def rung_label(self) -> str:
        return ladder.rung_label(self.current_step)

    @property
    def clinician_name(self) -> str:
        if self.clinician is None:
            return "—"
        return self.clinician.get_full_name() or self.clinician.get_username()

    @property
    def patient_name(self) -> str:
        patient = self.presentation.patient
        return f"{patient.family_name}, {patient.given_name}"

    @property
    def site(self) -> str:
        return f"{self.presentation.get_foot_display()} · interspace {self.presentation.interspace}"

    @property
    def reason_labels(self) -> list[str]:
        return [reason.label for reason in self.reasons]


@dataclass(frozen=True)
class ReviewFilters:
    """The review's filters and order as plain values; ``from_query`` reads them from a page's query string."""

    clinician_id: int | None = None
    rung: int | float | None = None
    reason: ReviewReason | None = None
    sort: str = "patient"

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> tuple[ReviewFilters, dict[str, str]]:
        """The filters in ``query`` (``clinician``, ``rung``, ``reason``, ``sort``) and an error per bad one.

        A bad value is left out of the filters (the rest still apply) and named in the errors, so the page
        can say what it ignored instead of failing.
        """
        values: dict[str, object] = {}
        errors: dict[str, str] = {}
        clinician = (query.get("clinician") or "").strip()
        if clinician:
            if clinician.isdigit():
                values["clinician_id"] = int(clinician)
            else:
                errors["clinician"] = f"clinician must be a user id, not {clinician!r}."
        rung = (query.get("rung") or "").strip()
        if rung:
            try:
                values["rung"] = ladder.rung_of_step(ladder.step_for_rung(rung))
            except ValueError as error:
                errors["rung"] = f"rung: {error}"
        reason = (query.get("reason") or "").strip()
        if reason:
            try:
                values["reason"] = ReviewReason(reason)
            except ValueError:
                errors["reason"] = f"reason must be one of {', '.join(ReviewReason)}, not {reason!r}."
        sort = (query.get("sort") or "").strip()
        if sort:
            if sort.removeprefix("-") in _SORT_KEYS:
                values["sort"] = sort
            else:
                keys = ", ".join(sorted(_SORT_KEYS))
                errors["sort"] = f"sort must be one of {keys} (a leading - reverses), not {sort!r}."
        return cls(**values), errors

    def matches(self, entry: ReviewEntry) -> bool:
        return (
            (self.clinician_id is None or getattr(entry.clinician, "pk", None) == self.clinician_id)
            and (self.rung is None or entry.rung == self.rung)
            and (self.reason is None or self.reason in entry.reasons)
        )


@dataclass
class ProgressionReview:
    """The cases needing a clinic admin's attention, each once with all its reasons, filtered and sorted.

    ``clinicians`` (id, name) and ``total`` describe the cases before filtering, for the page's filter form;
    ``errors`` names each query parameter that was ignored and why.
    """

    entries: list[ReviewEntry]
    filters: ReviewFilters = field(default_factory=ReviewFilters)
    errors: dict[str, str] = field(default_factory=dict)
    clinicians: list[tuple[int, str]] = field(default_factory=list)
    total: int = 0

    def with_reason(self, reason: ReviewReason) -> list[ReviewEntry]:
        return [entry for entry in self.entries if reason in entry.reasons]

    # One list per reason, as the review once was (seed_demo's checks read them).
    @property
    def due_for_escalation(self) -> list[ReviewEntry]:
        return self.with_reason(ReviewReason.DUE_FOR_ESCALATION)

    @property
    def stalled(self) -> list[ReviewEntry]:
        return self.with_reason(ReviewReason.STALLED)

    @property
    def skipped_rungs(self) -> list[ReviewEntry]:
        return self.with_reason(ReviewReason.SKIPPED_RUNG)

    @property
    def worsening(self) -> list[ReviewEntry]:
        return self.with_reason(ReviewReason.WORSENING)

    @property
    def lost_to_follow_up(self) -> list[ReviewEntry]:
        return self.with_reason(ReviewReason.LOST_TO_FOLLOW_UP)

    @property
    def reason_choices(self) -> list[tuple[str, str]]:
        return [(reason.value, reason.label) for reason in ReviewReason]

    @property
    def rung_choices(self) -> list[tuple[str, str]]:
        return ladder.RUNG_CHOICES

    @property
    def sort_choices(self) -> list[tuple[str, str]]:
        return list(REVIEW_SORTS.items())


def _reasons(recommendation: ladder.Recommendation, treatments: list, skipped: list) -> tuple[ReviewReason, ...]:
    reasons = []
    if recommendation.action in (ladder.Action.ESCALATE, ladder.Action.CONSIDER_SURGERY) and treatments:
        reasons.append(ReviewReason.DUE_FOR_ESCALATION)
    if recommendation.stalled:
        reasons.append(ReviewReason.STALLED)
    if skipped:
        reasons.append(ReviewReason.SKIPPED_RUNG)
    if recommendation.worsening:
        reasons.append(ReviewReason.WORSENING)
    if recommendation.lost_to_follow_up:
        reasons.append(ReviewReason.LOST_TO_FOLLOW_UP)
    return tuple(reasons)


def _sort_key(sort: str):
    key = sort.removeprefix("-")
    if key == "rung":
        return lambda entry: entry.current_step or 0
    if key == "clinician":
        return lambda entry: entry.clinician_name.casefold()
    if key == "last_seen":
        return lambda entry: entry.recommendation.last_seen_on or datetime.date.min
    return lambda entry: (entry.presentation.patient.family_name, entry.presentation.patient.given_name)


def progression_review(
    *,
    user,
    today: datetime.date | None = None,
    query: Mapping[str, str] | None = None,
    filters: ReviewFilters | None = None,
) -> ProgressionReview:
    """Active cases that need a clinic admin's attention, each once with all its reasons, in three fixed
    queries whatever their number.

    ``query`` is a page's query string (``clinician``, ``rung`` 1–4 or 3.5, ``reason``, ``sort``), read by
    ``ReviewFilters.from_query``; Python callers may pass ``filters`` instead. Filtering and sorting happen
    on the loaded cases, so they cost no query either.
    """
    errors: dict[str, str] = {}
    if filters is None:
        filters, errors = ReviewFilters.from_query(query or {})
    presentations = (
        scope(Presentation.objects.filter(status=PresentationStatus.ACTIVE), user)
        .select_related("patient", "patient__clinic")
        .prefetch_related(
            Prefetch("treatments", queryset=Treatment.objects.select_related("clinician").order_by("started_on", "pk")),
            Prefetch("visits", queryset=Visit.objects.order_by("seen_on", "pk")),
        )
        .order_by("patient__family_name", "patient__given_name", "pk")
    )
    entries = []
    for presentation in presentations:
        treatments = list(presentation.treatments.all())
        recommendation = ladder.recommend(
            treatments=treatments,
            visits=list(presentation.visits.all()),
            today=today or presentation.patient.clinic.today(),
        )
        skipped = ladder.skipped_rungs(treatments)
        reasons = _reasons(recommendation, treatments, skipped)
        if not reasons:
            continue
        current = ladder.current_treatment(treatments)
        entries.append(
            ReviewEntry(
                presentation=presentation,
                recommendation=recommendation,
                reasons=reasons,
                skipped=tuple(skipped),
                current_step=ladder.highest_step(treatments),
                clinician=current.clinician if current else None,
            )
        )
    clinicians = sorted(
        {entry.clinician.pk: entry.clinician_name for entry in entries if entry.clinician}.items(),
        key=lambda item: item[1].casefold(),
    )
    shown = [entry for entry in entries if filters.matches(entry)]
    # Stable sorts: the query's patient order breaks ties.
    shown.sort(key=_sort_key(filters.sort), reverse=filters.sort.startswith("-"))
    return ProgressionReview(shown, filters=filters, errors=errors, clinicians=clinicians, total=len(entries))


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
