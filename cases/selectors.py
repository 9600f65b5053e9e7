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


class _NamesTheCase:
    """How a listed case names its patient and site (the review and the worklist show them the same way)."""

    presentation: Presentation

    @property
    def patient_name(self) -> str:
        patient = self.presentation.patient
        return f"{patient.family_name}, {patient.given_name}"

    @property
    def site(self) -> str:
        return f"{self.presentation.get_foot_display()} · interspace {self.presentation.interspace}"


@dataclass(frozen=True)
class ReviewEntry(_NamesTheCase):
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


# The clinicians' workspace (admin): one case's summary, a clinician's worklist. Appended here so that the
# reads stay in one module; nothing above depends on them.

# What counts as a real change (DOMAIN.md §6b). None is neuroma-specific: each is a setting that names its
# source, so a clinic can replace it (settings.OUTCOME_MCID, same keys). A decrease is an improvement on every
# scale here (NRS 0–10, MOxFQ domains 0–100 with 100 worst). ``percent`` is the alternative relative threshold.
# The measures a visit records, in the order the summary shows them, with the scale each is read on.
SUMMARY_MEASURES: tuple[tuple[str, str, str], ...] = (
    ("pain_walking", "Walking pain (NRS 0–10)", "nrs"),
    ("pain_rest", "Rest pain (NRS 0–10)", "nrs"),
    ("moxfq_walking_standing", "MOxFQ walking/standing (0–100)", "moxfq"),
    ("moxfq_pain", "MOxFQ pain (0–100)", "moxfq"),
    ("moxfq_social", "MOxFQ social interaction (0–100)", "moxfq"),
)


def mcid_thresholds() -> dict[str, dict]:
    """The MCID per measure, each with its source (DOMAIN.md §6b): ``settings.FOLLOW_UP_MCID``, the one definition
    the follow-up reports also read."""
    from django.conf import settings

    return settings.FOLLOW_UP_MCID


@dataclass(frozen=True)
class MeasureChange:
    """One measure's baseline (the first visit recording it), latest reading and change; negative is better."""

    key: str
    label: str
    scale: str
    baseline: int
    baseline_on: datetime.date
    latest: int
    latest_on: datetime.date
    mcid_points: int | None
    mcid_percent: int | None
    mcid_source: str

    @property
    def change(self) -> int:
        return self.latest - self.baseline

    @property
    def reached_mcid(self) -> bool | None:
        """Improved by at least the MCID (points, or the percentage of the baseline where one is set)."""
        if self.latest_on == self.baseline_on or self.mcid_points is None:
            return None
        drop = self.baseline - self.latest
        by_percent = (
            self.mcid_percent is not None and self.baseline > 0 and drop * 100 >= self.mcid_percent * self.baseline
        )
        return drop >= self.mcid_points or by_percent

    @property
    def mcid_text(self) -> str:
        if self.mcid_points is None:
            return "—"
        percent = f" or {self.mcid_percent} %" if self.mcid_percent else ""
        return f"{self.mcid_points} points{percent}"


@dataclass(frozen=True)
class TimelineEntry:
    """One dated line of a case's read-only timeline."""

    day: datetime.date
    kind: str  # "visit", "treatment", "response", "complication", "follow_up"
    title: str
    detail: str = ""
    record: object | None = None


@dataclass(frozen=True)
class FollowUpMarker:
    """A follow-up answer to draw on the chart and list on the timeline (issue 10's scheduled questionnaires)."""

    day: datetime.date
    label: str
    values: dict[str, int] = field(default_factory=dict)


def follow_up_markers(presentation: Presentation) -> list[FollowUpMarker]:
    """The follow-up answers of one presentation, for its summary's chart and timeline, in one query.

    Each is drawn on the day it was answered, labelled with its time point, with the scores keyed by
    SUMMARY_MEASURES' keys (a MOxFQ domain the patient was not asked, or left unscored, is absent).
    """
    from .followups.models import FollowUpAnswer

    answers = (
        FollowUpAnswer.objects.filter(follow_up__presentation=presentation)
        .select_related("follow_up")
        .order_by("answered_on", "pk")
    )
    markers = []
    for answer in answers:
        values = {key: getattr(answer, key) for key, _label, _scale in SUMMARY_MEASURES}
        markers.append(
            FollowUpMarker(
                day=answer.answered_on,
                label=f"Follow-up: {answer.follow_up.get_time_point_display()}",
                values={key: round(value) for key, value in values.items() if value is not None},
            )
        )
    return markers


@dataclass
class CaseSummary:
    """Everything the case summary page shows about one presentation, read in a fixed number of queries."""

    presentation: Presentation
    visits: list[Visit]
    treatments: list[Treatment]
    complications: list
    recommendation: ladder.Recommendation
    today: datetime.date
    follow_ups: list[FollowUpMarker] = field(default_factory=list)

    @property
    def patient(self):
        return self.presentation.patient

    @property
    def age(self) -> int:
        born, today = self.patient.birth_date, self.today
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))

    @property
    def current_treatment(self) -> Treatment | None:
        return ladder.current_treatment(self.treatments)

    @property
    def current_step(self) -> int | None:
        return ladder.highest_step(self.treatments)

    @property
    def rung_label(self) -> str:
        return ladder.rung_label(self.current_step)

    @property
    def on_rung_since(self) -> datetime.date | None:
        step = self.current_step
        return min((t.started_on for t in self.treatments if t.step == step), default=None)

    @property
    def days_on_rung(self) -> int | None:
        since = self.on_rung_since
        return None if since is None else (self.today - since).days

    @property
    def trial_ends_on(self) -> datetime.date | None:
        return self.recommendation.trial_ends_on

    @property
    def changes(self) -> list[MeasureChange]:
        """Change from baseline per measure recorded at least once (the first recording is the baseline)."""
        thresholds = mcid_thresholds()
        changes = []
        for key, label, scale in SUMMARY_MEASURES:
            readings = [(v.seen_on, getattr(v, key)) for v in self.visits if getattr(v, key) is not None]
            if not readings:
                continue
            mcid = thresholds.get(key, {})
            changes.append(
                MeasureChange(
                    key=key,
                    label=label,
                    scale=scale,
                    baseline_on=readings[0][0],
                    baseline=readings[0][1],
                    latest_on=readings[-1][0],
                    latest=readings[-1][1],
                    mcid_points=mcid.get("points"),
                    mcid_percent=mcid.get("percent"),
                    mcid_source=mcid.get("source", ""),
                )
            )
        return changes

    @property
    def timeline(self) -> list[TimelineEntry]:
        """Visits, treatments (with their responses), complications and follow-ups, in date order."""
        entries: list[TimelineEntry] = []
        for visit in self.visits:
            scores = [f"walking pain {visit.pain_walking}/10", f"rest pain {visit.pain_rest}/10"]
            for key, label, _scale in SUMMARY_MEASURES[2:]:
                if getattr(visit, key) is not None:
                    scores.append(f"{label.removesuffix(' (0–100)')} {getattr(visit, key)}")
            if visit.relief_since_previous:
                scores.append(f"relief since the previous visit: {visit.get_relief_since_previous_display().lower()}")
            detail = "; ".join(scores) + (f". {visit.notes}" if visit.notes else "")
            entries.append(TimelineEntry(visit.seen_on, "visit", f"Visit ({_person(visit.clinician)})", detail, visit))
        for treatment in self.treatments:
            ended = f"; ended {ladder.format_day(treatment.ended_on)}" if treatment.ended_on else ""
            entries.append(
                TimelineEntry(
                    treatment.started_on,
                    "treatment",
                    f"Started {treatment.get_kind_display().lower()} ({ladder.rung_label(treatment.step)})",
                    f"By {_person(treatment.clinician)}{ended}."
                    + (f" Justification: {treatment.justification}" if treatment.justification else ""),
                    treatment,
                )
            )
            if treatment.response_assessed_on:
                entries.append(
                    TimelineEntry(
                        treatment.response_assessed_on,
                        "response",
                        f"Response to {treatment.get_kind_display().lower()}: {treatment.get_response_display()}",
                        record=treatment,
                    )
                )
        for complication in self.complications:
            resolved = (
                f"resolved {ladder.format_day(complication.resolved_on)}"
                if complication.resolved_on
                else ("resolved" if complication.resolved else "not resolved")
            )
            entries.append(
                TimelineEntry(
                    complication.occurred_on,
                    "complication",
                    f"Complication: {complication.get_kind_display().lower()}",
                    f"After {complication.treatment.get_kind_display().lower()}; {resolved}."
                    + (f" {complication.notes}" if complication.notes else ""),
                    complication,
                )
            )
        for marker in self.follow_ups:
            entries.append(TimelineEntry(marker.day, "follow_up", f"Follow-up answered: {marker.label}"))
        order = {"treatment": 0, "visit": 1, "response": 2, "complication": 3, "follow_up": 4}
        return sorted(entries, key=lambda entry: (entry.day, order[entry.kind]))

    def chart_data(self) -> dict:
        """The chart's data as plain JSON values (ISO dates): measures, treatment bands, injections, baselines,
        MCIDs and follow-up markers. The page embeds it with ``json_script``; the table shows the same numbers."""
        measures = []
        for key, label, scale in SUMMARY_MEASURES:
            points = [
                {"x": v.seen_on.isoformat(), "y": getattr(v, key)} for v in self.visits if getattr(v, key) is not None
            ]
            if points:
                measures.append({"key": key, "label": label, "scale": scale, "points": points})
        injectable = {"corticosteroid_injection", "alcohol_injection"}
        thresholds = mcid_thresholds()
        return {
            "today": self.today.isoformat(),
            "measures": measures,
            "treatments": [
                {
                    "label": t.get_kind_display(),
                    "rung": ladder.rung_label(t.step),
                    "start": t.started_on.isoformat(),
                    "end": (t.ended_on or self._band_end(t)).isoformat(),
                    "response": t.get_response_display(),
                }
                for t in self.treatments
            ],
            "injections": [
                {"date": t.started_on.isoformat(), "label": t.get_kind_display()}
                for t in self.treatments
                if t.kind in injectable
            ],
            "baselines": {change.key: change.baseline for change in self.changes},
            "mcid": {key: value.get("points") for key, value in thresholds.items()},
            "follow_ups": [{"date": m.day.isoformat(), "label": m.label, "values": m.values} for m in self.follow_ups],
        }

    def _band_end(self, treatment: Treatment) -> datetime.date:
        # An open treatment lasts until the next one started or today, whichever comes first.
        later = [t.started_on for t in self.treatments if t.started_on > treatment.started_on]
        return min([*later, self.today])


def _person(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else "—"


def case_summary(*, user, presentation_id: int, today: datetime.date | None = None) -> CaseSummary | None:
    """One presentation's summary if the user may see it (None for another clinic's or a missing one): five
    queries whatever the number of visits, treatments and complications."""
    from .models import Complication

    presentation = (
        scope(Presentation.objects.all(), user)
        .select_related("patient", "patient__clinic")
        .prefetch_related(
            Prefetch("visits", queryset=Visit.objects.select_related("clinician").order_by("seen_on", "pk")),
            Prefetch("treatments", queryset=Treatment.objects.select_related("clinician").order_by("started_on", "pk")),
        )
        .filter(pk=presentation_id)
        .first()
    )
    if presentation is None:
        return None
    treatments = list(presentation.treatments.all())
    visits = list(presentation.visits.all())
    by_pk = {t.pk: t for t in treatments}
    complications = list(
        Complication.objects.filter(treatment__presentation=presentation).order_by("occurred_on", "pk")
    )
    for complication in complications:
        complication.treatment = by_pk[complication.treatment_id]  # already loaded: no query per complication
    today = today or presentation.patient.clinic.today()
    return CaseSummary(
        presentation=presentation,
        visits=visits,
        treatments=treatments,
        complications=complications,
        recommendation=presentation.recommendation(today=today, treatments=treatments, visits=visits),
        today=today,
        follow_ups=follow_up_markers(presentation),
    )


def patient_presentation_cards(*, patient) -> list[Presentation]:
    """A patient's presentations for the summary cards on the patient's page, newest first, with their current
    rung, last visit and latest pain (one query). ``patient`` comes from a page already scoped to the user's
    clinics, and a patient's presentations are all in that patient's clinic."""
    return list(Presentation.objects.with_summary().filter(patient=patient).order_by("-first_seen_on", "-pk"))


class WorklistSection(StrEnum):
    """Why a case is on a clinician's worklist; each case is listed once, under the first that applies."""

    LOST_TO_FOLLOW_UP = "lost"
    NO_RESPONSE = "no_response"
    DUE_FOR_DECISION = "due"
    OVERDUE_FOLLOW_UP = "overdue_follow_up"

    @property
    def label(self) -> str:
        return {
            WorklistSection.LOST_TO_FOLLOW_UP: "Lost to follow-up",
            WorklistSection.NO_RESPONSE: "Trial ended, no response recorded",
            WorklistSection.DUE_FOR_DECISION: "Due for a decision",
            WorklistSection.OVERDUE_FOLLOW_UP: "Overdue follow-ups",
        }[self]

    @property
    def action(self) -> str:
        """The one thing a row of this section needs."""
        return {
            WorklistSection.LOST_TO_FOLLOW_UP: "Contact the patient and review",
            WorklistSection.NO_RESPONSE: "Record the response",
            WorklistSection.DUE_FOR_DECISION: "Decide the next step",
            WorklistSection.OVERDUE_FOLLOW_UP: "Chase the follow-up",
        }[self]


@dataclass(frozen=True)
class WorklistEntry(_NamesTheCase):
    presentation: Presentation
    section: WorklistSection
    recommendation: ladder.Recommendation | None
    overdue_days: int
    current_step: int | None
    follow_up: object | None = None  # the overdue follow-up, for that section's rows

    @property
    def rung_label(self) -> str:
        return ladder.rung_label(self.current_step)


def overdue_follow_ups(*, user, today: datetime.date | None = None) -> list[WorklistEntry]:
    """The worklist's overdue follow-ups: questionnaires past their due day, window still open, not answered.

    The clinician's own (a follow-up names the clinician of the treatment it follows), read through
    ``cases.followups.selectors.overdue_list`` with each clinic's own today; one query per clinic where
    ``user`` treats, plus one for the clinics.
    """
    from .followups.selectors import overdue_list

    clinic_ids = clinic_ids_for(user, roles=WRITE_ROLES)
    clinics = Clinic.objects.all() if clinic_ids is None else Clinic.objects.filter(pk__in=clinic_ids)
    entries = []
    for clinic in clinics:
        clinic_today = today or clinic.today()
        for follow_up in overdue_list(clinics=[clinic], today=clinic_today).filter(clinician=user):
            entries.append(
                WorklistEntry(
                    presentation=follow_up.presentation,
                    section=WorklistSection.OVERDUE_FOLLOW_UP,
                    recommendation=None,
                    overdue_days=(clinic_today - follow_up.due_on).days,
                    current_step=None,
                    follow_up=follow_up,
                )
            )
    entries.sort(key=lambda entry: -entry.overdue_days)
    return entries


_WORKLIST_FIELDS = (
    "foot",
    "interspace",
    "status",
    "patient__mrn",
    "patient__given_name",
    "patient__family_name",
    "patient__clinic__time_zone",
)


def _by_presentation(rows) -> dict[int, list]:
    grouped: dict[int, list] = {}
    for row in rows:
        grouped.setdefault(row.presentation_id, []).append(row)
    return grouped


def clinician_worklist(*, user, today: datetime.date | None = None) -> dict[WorklistSection, list[WorklistEntry]]:
    """A clinician's own active cases that need something from them, by section, most overdue first.

    A case is the clinician's when they started its current treatment (the one the ladder judges). Three
    queries whatever the number of cases (plus the follow-ups hook's); sections keep every section key, empty
    or not, so a page can show each with its count. The treatments and visits are read as plain values and
    the presentations with only the columns the rows show.
    """
    mine = (
        scope(Presentation.objects.filter(status=PresentationStatus.ACTIVE), user, roles=WRITE_ROLES)
        .filter(pk__in=_current_treatment_by(user))
        .select_related("patient", "patient__clinic")
        .only(*_WORKLIST_FIELDS)
    )
    presentations = list(mine)
    # The same scoped cases as a subquery (not a list of ids, which a large caseload would push past SQLite's
    # limit on query parameters).
    case_ids = mine.values("pk")
    treatments = _by_presentation(
        ladder.PlainTreatment(*row)
        for row in Treatment.objects.filter(presentation__in=case_ids)
        .order_by("started_on", "pk")
        .values_list(*ladder.PlainTreatment._fields)
    )
    visits = _by_presentation(
        ladder.PlainVisit(*row)
        for row in Visit.objects.filter(presentation__in=case_ids)
        .order_by("seen_on", "pk")
        .values_list(*ladder.PlainVisit._fields)
    )
    sections: dict[WorklistSection, list[WorklistEntry]] = {section: [] for section in WorklistSection}
    zone_today: dict[str, datetime.date] = {}
    for presentation in presentations:
        facts = treatments.get(presentation.pk, [])
        current = ladder.current_treatment(facts)
        if current is None or current.clinician_id != user.pk:
            continue
        clinic = presentation.patient.clinic
        day = today or zone_today.setdefault(clinic.time_zone, clinic.today())
        advice = ladder.recommend(treatments=facts, visits=visits.get(presentation.pk, []), today=day)
        if advice.lost_to_follow_up:
            section = WorklistSection.LOST_TO_FOLLOW_UP
        elif advice.stalled:
            section = WorklistSection.NO_RESPONSE
        elif advice.action in (ladder.Action.ESCALATE, ladder.Action.CONSIDER_SURGERY):
            section = WorklistSection.DUE_FOR_DECISION
        else:
            continue
        overdue = max((day - advice.trial_ends_on).days, 0) if advice.trial_ends_on else 0
        sections[section].append(WorklistEntry(presentation, section, advice, overdue, ladder.highest_step(facts)))
    sections[WorklistSection.OVERDUE_FOLLOW_UP] = overdue_follow_ups(user=user, today=today)
    for entries in sections.values():
        entries.sort(key=lambda entry: (-entry.overdue_days, entry.patient_name))
    return sections


def _current_treatment_by(user) -> QuerySet:
    # Narrows the load to presentations with a treatment this user started; the loop keeps only those where it
    # is the current one (a subquery per row would cost more than the loop on a large clinic).
    return Treatment.objects.filter(clinician=user).values("presentation_id")


@dataclass(frozen=True)
class SurgeryConversion:
    """Of the treatments of one kind started within the dashboard's filters, how many were followed by a
    neurectomy in the same presentation (started on the same day or later)."""

    kind: str
    started: int
    converted: int

    @property
    def rate(self) -> float | None:
        return self.converted / self.started if self.started else None


def surgery_conversion(
    *,
    clinic_ids: list[int] | None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    clinician_id: int | None = None,
    interspace: int | None = None,
) -> dict[str, SurgeryConversion]:
    """Conversion to surgery per non-surgical treatment kind, in one query; the filters mean what they mean in
    ``cases.reports.outcome_report`` (which has no such figure), and ``clinic_ids`` None reads every clinic."""
    from django.db.models import Count, Exists, OuterRef, Q

    from .choices import TreatmentKind
    from .reports import filtered_treatments

    treatments = filtered_treatments(
        clinic_ids=clinic_ids, date_from=date_from, date_to=date_to, clinician_id=clinician_id, interspace=interspace
    ).exclude(kind=TreatmentKind.NEURECTOMY)
    surgery = Treatment.objects.filter(
        presentation=OuterRef("presentation"), kind=TreatmentKind.NEURECTOMY, started_on__gte=OuterRef("started_on")
    )
    rows = (
        treatments.annotate(converted=Exists(surgery))
        .values("kind")
        .annotate(started=Count("pk"), converted_count=Count("pk", filter=Q(converted=True)))
        .order_by()
    )
    return {row["kind"]: SurgeryConversion(row["kind"], row["started"], row["converted_count"]) for row in rows}
