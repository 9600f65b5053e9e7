"""Completion of follow-ups and outcomes against the MCID: the figures the registries miss.

Completion, per time point (baseline and each follow-up apart, never merged), per clinic and optionally
per clinician, over the follow-ups due in a date range: the denominator is the follow-ups whose window
has closed (cancelled ones are not counted: they were never to be asked), the numerator those answered
on or before their window's last day. The BOFAS registry's figures stand beside them (DOMAIN.md §6a).

Outcomes: for each treatment kind (so each rung, and each alternative apart) and time point, the share
of presentations whose answer improved on their baseline by at least the MCID, and the share in the
acceptable state (DOMAIN.md §6b), with the number each share rests on and how many were missing. The
baseline is the baseline follow-up's answer, or failing that the first visit's recorded values. Every
measure here is better when lower, so an improvement is a fall.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet

from .. import ladder
from ..models import Visit
from .choices import FollowUpStatus, TimePoint
from .models import FollowUp, FollowUpAnswer

# BOFAS national registry, first-MTPJ cohort (n=459): completion by time point (DOMAIN.md §6a).
BOFAS_COMPLETION_PERCENT: dict[str, float] = {
    TimePoint.BASELINE: 52.5,
    TimePoint.MONTH_6: 27.2,
    TimePoint.MONTH_12: 15.7,
}
BOFAS_COMPLETION_SOURCE = "BOFAS national registry, first-MTPJ cohort, n=459 (DOMAIN.md §6a)"

MEASURES = ("pain_walking", "pain_rest", "moxfq_walking_standing", "moxfq_pain", "moxfq_social")


@dataclass(frozen=True)
class CompletionRow:
    time_point: str
    clinic_id: int
    clinician_id: int | None
    closed: int
    completed: int
    bofas_percent: float | None

    @property
    def percent(self) -> float | None:
        return round(100 * self.completed / self.closed, 1) if self.closed else None


def completion_rates(
    *,
    clinics,
    due_from: datetime.date,
    due_to: datetime.date,
    today: datetime.date,
    per_clinician: bool = False,
) -> list[CompletionRow]:
    """Completion per time point and clinic (and clinician), for follow-ups due in [due_from, due_to]; one query."""
    group = ["time_point", "presentation__patient__clinic"] + (["clinician"] if per_clinician else [])
    rows = (
        FollowUp.objects.in_clinics(clinics)
        .exclude(status=FollowUpStatus.CANCELLED)
        .filter(due_on__gte=due_from, due_on__lte=due_to, window_closes_on__lt=today)
        .values(*group)
        .annotate(
            closed=Count("pk"),
            completed=Count(
                "pk", filter=Q(status=FollowUpStatus.COMPLETED, answer__answered_on__lte=F("window_closes_on"))
            ),
        )
        .order_by(*group)
    )
    order = {value: index for index, value in enumerate(TimePoint.values)}
    return sorted(
        (
            CompletionRow(
                time_point=row["time_point"],
                clinic_id=row["presentation__patient__clinic"],
                clinician_id=row.get("clinician"),
                closed=row["closed"],
                completed=row["completed"],
                bofas_percent=BOFAS_COMPLETION_PERCENT.get(row["time_point"]),
            )
            for row in rows
        ),
        key=lambda row: (order[row.time_point], row.clinic_id, row.clinician_id or 0),
    )


@dataclass(frozen=True)
class Threshold:
    """A measure's MCID: an improvement of at least ``points`` (or ``percent`` of the baseline, if given)."""

    measure: str
    points: Decimal
    percent: Decimal | None
    source: str

    def reached(self, baseline, value) -> bool:
        improvement = Decimal(baseline) - Decimal(value)
        if improvement >= self.points:
            return True
        return bool(self.percent is not None and baseline and improvement * 100 >= self.percent * Decimal(baseline))


@dataclass(frozen=True)
class AcceptableState:
    measure: str
    at_most: Decimal
    source: str

    def reached(self, value) -> bool:
        return Decimal(value) <= self.at_most


def _merged(defaults: Mapping[str, dict], overrides: Mapping[str, Any] | None) -> dict[str, dict]:
    merged = {measure: dict(values) for measure, values in defaults.items()}
    for measure, values in (overrides or {}).items():
        if measure in merged and isinstance(values, Mapping):
            merged[measure].update(values)
    return merged


def thresholds_for(clinic_settings=None) -> dict[str, Threshold]:
    """The MCID per measure: ``settings.FOLLOW_UP_MCID``, with the clinic's overrides (and their source)."""
    overrides = getattr(clinic_settings, "thresholds", None) or {}
    return {
        measure: Threshold(
            measure=measure,
            points=Decimal(str(values["points"])),
            percent=Decimal(str(values["percent"])) if values.get("percent") is not None else None,
            source=str(values.get("source", "")),
        )
        for measure, values in _merged(settings.FOLLOW_UP_MCID, overrides).items()
    }


def acceptable_states_for(clinic_settings=None) -> dict[str, AcceptableState]:
    overrides = (getattr(clinic_settings, "thresholds", None) or {}).get("acceptable_state", {})
    return {
        measure: AcceptableState(measure=measure, at_most=Decimal(str(values["at_most"])), source=str(values["source"]))
        for measure, values in _merged(settings.FOLLOW_UP_ACCEPTABLE_STATE, overrides).items()
    }


def _baselines(presentation_ids) -> dict[int, dict[str, Any]]:
    """Each presentation's baseline values: its baseline answer, else its first visit's values.

    ``presentation_ids`` is a list or a subquery of ids (a subquery keeps the caller's query count the
    same whether or not any presentation qualifies).
    """
    ids = presentation_ids if isinstance(presentation_ids, QuerySet) else list(presentation_ids)
    baselines: dict[int, dict[str, Any]] = {}
    for row in (
        Visit.objects.filter(presentation_id__in=ids).order_by("-seen_on", "-pk").values("presentation_id", *MEASURES)
    ):
        baselines[row.pop("presentation_id")] = row  # the last written is the earliest visit
    for row in FollowUpAnswer.objects.filter(
        follow_up__presentation_id__in=ids, follow_up__time_point=TimePoint.BASELINE
    ).values("follow_up__presentation_id", *MEASURES):
        presentation_id = row.pop("follow_up__presentation_id")
        earlier = baselines.get(presentation_id, {})
        baselines[presentation_id] = {m: row[m] if row[m] is not None else earlier.get(m) for m in MEASURES}
    return baselines


@dataclass(frozen=True)
class OutcomeRow:
    kind: str
    rung: int | float
    time_point: str
    measure: str
    n: int  # presentations with a baseline and an answer on this measure
    missing: int  # window closed, but no answer on this measure or no baseline
    mcid_reached: int
    acceptable_reached: int | None  # only for measures with an acceptable state
    mcid_source: str

    @property
    def mcid_percent(self) -> float | None:
        return round(100 * self.mcid_reached / self.n, 1) if self.n else None

    @property
    def acceptable_percent(self) -> float | None:
        if self.acceptable_reached is None or not self.n:
            return None
        return round(100 * self.acceptable_reached / self.n, 1)


def outcomes_against_mcid(
    *,
    clinics,
    today: datetime.date,
    time_points: Iterable[str] = (TimePoint.MONTH_6, TimePoint.MONTH_12),
    clinic_settings=None,
    treatments: QuerySet | None = None,
) -> list[OutcomeRow]:
    """Per treatment kind, time point and measure: how many presentations reached the MCID and the acceptable state.

    A presentation treated twice with the same kind counts once, by its latest such treatment. Only
    follow-ups answered or whose window has closed count; an open, unanswered one is neither n nor missing.
    ``clinics`` None reads every clinic (a superuser's report); ``treatments``, if given, keeps only the
    follow-ups of those treatments (the outcome report's filters). Three queries, whatever the data.
    """
    thresholds = thresholds_for(clinic_settings)
    acceptable = acceptable_states_for(clinic_settings)
    follow_ups = FollowUp.objects.all() if clinics is None else FollowUp.objects.in_clinics(clinics)
    if treatments is not None:
        follow_ups = follow_ups.filter(treatment__in=treatments.order_by().values("pk"))
    follow_ups = (
        follow_ups.filter(time_point__in=list(time_points), treatment__isnull=False)
        .filter(Q(status=FollowUpStatus.COMPLETED) | Q(window_closes_on__lt=today))
        .exclude(status=FollowUpStatus.CANCELLED)
    )
    rows = follow_ups.order_by("treatment__started_on", "pk").values(
        "presentation_id", "time_point", "status", "treatment__kind", *[f"answer__{m}" for m in MEASURES]
    )
    latest: dict[tuple[str, str, int], dict] = {}
    for row in rows:  # ordered by start, so the latest treatment of a kind wins
        latest[(row["treatment__kind"], row["time_point"], row["presentation_id"])] = row
    baselines = _baselines(follow_ups.order_by().values("presentation_id"))
    tally: dict[tuple[str, str, str], list[int]] = {}
    for (kind, time_point, presentation_id), row in latest.items():
        baseline = baselines.get(presentation_id, {})
        for measure in MEASURES:
            counts = tally.setdefault((kind, time_point, measure), [0, 0, 0, 0])  # n, missing, mcid, acceptable
            value, before = row[f"answer__{measure}"], baseline.get(measure)
            if value is None or before is None:
                counts[1] += 1
                continue
            counts[0] += 1
            counts[2] += thresholds[measure].reached(before, value)
            if measure in acceptable:
                counts[3] += acceptable[measure].reached(value)
    order = {value: index for index, value in enumerate(TimePoint.values)}
    return [
        OutcomeRow(
            kind=kind,
            rung=ladder.rung_of(kind),
            time_point=time_point,
            measure=measure,
            n=n,
            missing=missing,
            mcid_reached=mcid,
            acceptable_reached=reached if measure in acceptable else None,
            mcid_source=thresholds[measure].source,
        )
        for (kind, time_point, measure), (n, missing, mcid, reached) in sorted(
            tally.items(),
            key=lambda item: (ladder.step_of(item[0][0]), item[0][0], order[item[0][1]], MEASURES.index(item[0][2])),
        )
    ]


@dataclass(frozen=True)
class ChangeFromBaseline:
    follow_up_id: int
    time_point: str
    treatment_id: int | None
    measure: str
    baseline: Any
    value: Any
    change: Any  # value - baseline: negative is better
    mcid_reached: bool
    acceptable: bool | None


def change_from_baseline(*, presentation, clinic_settings=None) -> list[ChangeFromBaseline]:
    """Each measure's change from baseline at a presentation's answered follow-ups, and whether it reached the MCID."""
    thresholds = thresholds_for(clinic_settings)
    acceptable = acceptable_states_for(clinic_settings)
    baseline = _baselines([presentation.pk]).get(presentation.pk, {})
    changes = []
    answered = (
        FollowUp.objects.filter(presentation=presentation, status=FollowUpStatus.COMPLETED)
        .exclude(time_point=TimePoint.BASELINE)
        .select_related("answer")
        .order_by("due_on", "pk")
    )
    for follow_up in answered:
        for measure in MEASURES:
            value, before = getattr(follow_up.answer, measure), baseline.get(measure)
            if value is None or before is None:
                continue
            changes.append(
                ChangeFromBaseline(
                    follow_up_id=follow_up.pk,
                    time_point=follow_up.time_point,
                    treatment_id=follow_up.treatment_id,
                    measure=measure,
                    baseline=before,
                    value=value,
                    change=value - before,
                    mcid_reached=thresholds[measure].reached(before, value),
                    acceptable=acceptable[measure].reached(value) if measure in acceptable else None,
                )
            )
    return changes
