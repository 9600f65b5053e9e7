"""The treatment-ladder rules for intermetatarsal neuroma (DOMAIN.md §1 and §4), as plain functions.

Nothing here touches the database or a request: callers pass in the facts (model instances or any
object with the same attributes) and get back violations or a recommendation. Models' `clean()`,
the services, the admin, the API and the management commands all ask this module, so each rule is
written once. Limits and trial lengths come from ``settings.LADDER`` (see ``LadderSettings``).

Positions on the ladder are kept as integers ten times the rung number so that the alternatives,
which sit between rungs 3 and 4, can be ordered and compared in SQL as well as in Python.
"""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from django.conf import settings

from .choices import Relief, Response, TreatmentKind

FOOTWEAR = 10
ORTHOSIS = 20
INJECTION = 30
ALTERNATIVE = 35
NEURECTOMY = 40

STEP_BY_KIND: dict[str, int] = {
    TreatmentKind.FOOTWEAR_MODIFICATION: FOOTWEAR,
    TreatmentKind.ORTHOSIS: ORTHOSIS,
    TreatmentKind.CORTICOSTEROID_INJECTION: INJECTION,
    TreatmentKind.ALCOHOL_INJECTION: ALTERNATIVE,
    TreatmentKind.RADIOFREQUENCY_ABLATION: ALTERNATIVE,
    TreatmentKind.CRYONEUROLYSIS: ALTERNATIVE,
    TreatmentKind.NEURECTOMY: NEURECTOMY,
}
STEP_LABELS: dict[int, str] = {
    FOOTWEAR: "1 · footwear modification",
    ORTHOSIS: "2 · orthosis",
    INJECTION: "3 · corticosteroid injection",
    ALTERNATIVE: "3–4 · alternative",
    NEURECTOMY: "4 · neurectomy",
}
# The kind one starts on reaching each rung (the alternatives are offered, not escalated to).
KIND_BY_STEP: dict[int, str] = {
    FOOTWEAR: TreatmentKind.FOOTWEAR_MODIFICATION,
    ORTHOSIS: TreatmentKind.ORTHOSIS,
    INJECTION: TreatmentKind.CORTICOSTEROID_INJECTION,
    NEURECTOMY: TreatmentKind.NEURECTOMY,
}
NON_SURGICAL_KINDS = frozenset(k for k, step in STEP_BY_KIND.items() if step < NEURECTOMY)


def step_of(kind: str) -> int:
    """The ladder position of a treatment kind (10 = rung 1 … 40 = rung 4); private to this module's callers'
    SQL and ordering: what a person or a client reads is ``rung_of_step`` or ``rung_label``."""
    return STEP_BY_KIND[kind]


# The rung as people and clients see it: 1–4, and 3.5 for the alternatives between rungs 3 and 4.
RUNG_BY_STEP: dict[int, int | float] = {
    FOOTWEAR: 1,
    ORTHOSIS: 2,
    INJECTION: 3,
    ALTERNATIVE: 3.5,
    NEURECTOMY: 4,
}
STEP_BY_RUNG: dict[int | float, int] = {rung: step for step, rung in RUNG_BY_STEP.items()}
RUNG_CHOICES: list[tuple[str, str]] = [(str(rung), STEP_LABELS[step]) for step, rung in RUNG_BY_STEP.items()]


def rung_of_step(step: int | None) -> int | float | None:
    """The public rung number of a ladder position (1, 2, 3, 3.5 for an alternative, 4), or None."""
    return RUNG_BY_STEP[step] if step else None


def rung_of(kind: str) -> int | float:
    """The public rung number of a treatment kind."""
    return RUNG_BY_STEP[STEP_BY_KIND[kind]]


def step_for_rung(rung: object) -> int:
    """The ladder position of a public rung number ("1"–"4", "3.5"); ValueError for anything else."""
    try:
        number = float(str(rung).strip())
    except ValueError:
        raise ValueError(f"{rung!r} is not a rung: use 1, 2, 3, 3.5 (alternative) or 4.") from None
    for value, step in STEP_BY_RUNG.items():
        if number == value:
            return step
    raise ValueError(f"{rung!r} is not a rung: use 1, 2, 3, 3.5 (alternative) or 4.")


def rung_label(step: int | None) -> str:
    """A human label for a ladder position, or an em dash when nothing has been tried."""
    return STEP_LABELS.get(step, "—") if step else "—"


class TreatmentFacts(Protocol):
    pk: object
    kind: str
    started_on: datetime.date
    ended_on: datetime.date | None
    response: str
    response_assessed_on: datetime.date | None
    justification: str


class VisitFacts(Protocol):
    seen_on: datetime.date
    pain_walking: int
    pain_rest: int
    relief_since_previous: str


@dataclass(frozen=True)
class LadderSettings:
    trial_weeks: dict[str, int]
    injection_min_interval_weeks: int
    injection_max_per_12_months: int
    worsening_pain_rise: int

    @classmethod
    def from_settings(cls) -> LadderSettings:
        conf = settings.LADDER
        return cls(
            trial_weeks=dict(conf["TRIAL_WEEKS"]),
            injection_min_interval_weeks=conf["INJECTION_MIN_INTERVAL_WEEKS"],
            injection_max_per_12_months=conf["INJECTION_MAX_PER_12_MONTHS"],
            worsening_pain_rise=conf["WORSENING_PAIN_RISE"],
        )

    def trial_ends_on(self, treatment: TreatmentFacts) -> datetime.date:
        return treatment.started_on + datetime.timedelta(weeks=self.trial_weeks[treatment.kind])


class Rule(StrEnum):
    """Each ladder rule has a stable code; the API's problem details name it."""

    RUNG_SKIPPED = "rung_skipped"
    NEURECTOMY_WITHOUT_CONSERVATIVE_FAILURE = "neurectomy_without_conservative_failure"
    INJECTION_INTERVAL = "injection_interval"
    INJECTION_YEARLY_LIMIT = "injection_yearly_limit"


@dataclass(frozen=True)
class Violation:
    rule: Rule
    message: str


def _is_justified(treatment: TreatmentFacts) -> bool:
    return bool((treatment.justification or "").strip())


def _add_months(day: datetime.date, months: int) -> datetime.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def treatment_violations(
    candidate: TreatmentFacts,
    others: Iterable[TreatmentFacts],
    *,
    conf: LadderSettings | None = None,
) -> list[Violation]:
    """Every ladder rule that starting ``candidate`` would break, given the presentation's other treatments.

    A written justification on the candidate overrides every rule here (DOMAIN.md §4); the rules
    then still apply to anything recorded later.
    """
    if _is_justified(candidate):
        return []
    conf = conf or LadderSettings.from_settings()
    others = [t for t in others if not _same(t, candidate)]
    violations: list[Violation] = []

    step = step_of(candidate.kind)
    tried = [t for t in others if t.started_on <= candidate.started_on]
    highest = max((step_of(t.kind) for t in tried), default=0)
    if step - highest > 10:
        violations.append(
            Violation(
                Rule.RUNG_SKIPPED,
                f"Starting {rung_label(step)} skips a rung: the highest rung tried so far is "
                f"{rung_label(highest) if highest else 'none'}. Record a justification to escalate "
                "more than one rung.",
            )
        )

    if candidate.kind == TreatmentKind.NEURECTOMY and not any(
        t.kind in NON_SURGICAL_KINDS and t.response in (Response.PARTIAL, Response.NONE) for t in tried
    ):
        violations.append(
            Violation(
                Rule.NEURECTOMY_WITHOUT_CONSERVATIVE_FAILURE,
                "Neurectomy needs at least one conservative treatment with partial or no relief, "
                "or a justification (for example a large neuroma on imaging, or the patient's informed choice).",
            )
        )

    if candidate.kind == TreatmentKind.CORTICOSTEROID_INJECTION:
        violations.extend(_injection_violations(candidate, others, conf))
    return violations


def _same(a: TreatmentFacts, b: TreatmentFacts) -> bool:
    return a is b or (a.pk is not None and a.pk == b.pk)


def _injection_violations(
    candidate: TreatmentFacts, others: Sequence[TreatmentFacts], conf: LadderSettings
) -> list[Violation]:
    violations = []
    day = candidate.started_on
    injections = sorted(t.started_on for t in others if t.kind == TreatmentKind.CORTICOSTEROID_INJECTION)

    interval = datetime.timedelta(weeks=conf.injection_min_interval_weeks)
    too_close = [d for d in injections if abs(d - day) < interval]
    if too_close:
        violations.append(
            Violation(
                Rule.INJECTION_INTERVAL,
                f"Corticosteroid injections must be at least {conf.injection_min_interval_weeks} weeks apart; "
                f"this one is {abs(too_close[0] - day).days} days from the injection on {too_close[0].isoformat()}. "
                "Record a justification to override.",
            )
        )

    # "At most N in any 12 months": every 12-month window that would contain the new injection.
    limit = conf.injection_max_per_12_months
    dates = sorted([*injections, day])
    for window_start in dates:
        window_end = _add_months(window_start, 12)
        if not (window_start <= day < window_end):
            continue
        in_window = [d for d in dates if window_start <= d < window_end]
        if len(in_window) > limit:
            violations.append(
                Violation(
                    Rule.INJECTION_YEARLY_LIMIT,
                    f"At most {limit} corticosteroid injections are allowed in any 12 months; this would be "
                    f"injection {len(in_window)} between {window_start.isoformat()} and "
                    f"{(window_end - datetime.timedelta(days=1)).isoformat()}. Record a justification to override.",
                )
            )
            break
    return violations


def highest_step(treatments: Iterable[TreatmentFacts]) -> int | None:
    """A presentation's current rung: the highest ladder position among its treatments."""
    return max((step_of(t.kind) for t in treatments), default=None)


def skipped_rungs(treatments: Iterable[TreatmentFacts]) -> list[TreatmentFacts]:
    """Treatments that were started more than one rung above everything tried before them."""
    ordered = sorted(treatments, key=lambda t: (t.started_on, step_of(t.kind)))
    skipped, highest = [], 0
    for treatment in ordered:
        step = step_of(treatment.kind)
        if step - highest > 10:
            skipped.append(treatment)
        highest = max(highest, step)
    return skipped


def is_worsening(visits: Sequence[VisitFacts], *, conf: LadderSettings | None = None) -> bool:
    """Rest pain at the latest visit, or walking pain up by the configured rise since the one before."""
    conf = conf or LadderSettings.from_settings()
    ordered = sorted(visits, key=lambda v: v.seen_on)
    if not ordered:
        return False
    latest = ordered[-1]
    if latest.pain_rest > 0:
        return True
    return len(ordered) > 1 and latest.pain_walking - ordered[-2].pain_walking >= conf.worsening_pain_rise


class Action(StrEnum):
    STAY = "stay"
    ESCALATE = "escalate"
    CONSIDER_SURGERY = "consider_surgery"
    DISCHARGE = "discharge"


@dataclass(frozen=True)
class Recommendation:
    action: Action
    reason: str
    target_step: int | None = None
    worsening: bool = False
    stalled: bool = False
    trial_ends_on: datetime.date | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def target_rung(self) -> int | None:
        """The rung number (1–4) to escalate to, when escalating."""
        return self.target_step // 10 if self.target_step else None

    @property
    def summary(self) -> str:
        label = {
            Action.STAY: "Stay on the current rung",
            Action.ESCALATE: f"Escalate to {rung_label(self.target_step)}",
            Action.CONSIDER_SURGERY: "Consider surgery",
            Action.DISCHARGE: "Discharge",
        }[self.action]
        return f"{label}{' (worsening)' if self.worsening else ''}"


def _current_treatment(treatments: Sequence[TreatmentFacts]) -> TreatmentFacts | None:
    return max(treatments, key=lambda t: (step_of(t.kind), t.started_on), default=None)


def recommend(
    *,
    treatments: Sequence[TreatmentFacts],
    visits: Sequence[VisitFacts],
    today: datetime.date,
    closed: bool = False,
    conf: LadderSettings | None = None,
) -> Recommendation:
    """What to do next for one presentation, with the reason.

    The current treatment is the one on the highest rung (the latest, on a tie). Its trial must run
    its length before it is judged; complete relief is discharged once a later visit confirms it;
    partial or no relief escalates one rung, and from the injection rung upwards it means surgery
    is worth considering. Rest pain or rising walking pain marks the case as worsening: a worsening
    case is escalated without waiting for the trial to end.
    """
    conf = conf or LadderSettings.from_settings()
    worsening = is_worsening(visits, conf=conf)
    if closed:
        return Recommendation(Action.DISCHARGE, "The presentation is no longer active.", worsening=worsening)

    current = _current_treatment(treatments)
    if current is None:
        return Recommendation(
            Action.ESCALATE,
            "No treatment recorded yet: start with footwear modification (wide toe box, low heel, soft sole).",
            target_step=FOOTWEAR,
            worsening=worsening,
        )

    step = step_of(current.kind)
    ends_on = conf.trial_ends_on(current)
    label = TreatmentKind(current.kind).label.lower()

    if current.response == Response.COMPLETE:
        confirmed_after = current.response_assessed_on or current.started_on
        confirmed = any(
            v.seen_on > confirmed_after and v.relief_since_previous == Relief.COMPLETE and v.pain_rest == 0
            for v in visits
        )
        if confirmed and not worsening:
            return Recommendation(
                Action.DISCHARGE,
                f"Complete relief from {label}, confirmed at a later visit.",
                trial_ends_on=ends_on,
            )
        reason = f"Complete relief from {label} recorded; " + (
            "but the latest visit shows worsening pain: review."
            if worsening
            else "confirm it at a follow-up visit before discharge."
        )
        return Recommendation(Action.STAY, reason, worsening=worsening, trial_ends_on=ends_on)

    failed = current.response in (Response.PARTIAL, Response.NONE)
    if not failed and today < ends_on and not worsening:
        return Recommendation(
            Action.STAY,
            f"The {label} trial runs until {ends_on.isoformat()}; judge the response then.",
            trial_ends_on=ends_on,
        )
    if not failed and not worsening:
        return Recommendation(
            Action.STAY,
            f"The {label} trial ended on {ends_on.isoformat()} and no response has been recorded: "
            "assess and record it.",
            stalled=True,
            trial_ends_on=ends_on,
        )

    why = f"{Response(current.response).label} from {label}" if failed else f"Worsening pain during the {label} trial"
    if step < INJECTION:
        target = step + 10
        return Recommendation(
            Action.ESCALATE,
            f"{why}: escalate to {rung_label(target)}.",
            target_step=target,
            worsening=worsening,
            trial_ends_on=ends_on,
        )
    if step == NEURECTOMY:
        return Recommendation(
            Action.CONSIDER_SURGERY,
            f"{why}: review for a recurrent or stump neuroma and consider revision surgery.",
            target_step=NEURECTOMY,
            worsening=worsening,
            trial_ends_on=ends_on,
        )
    return Recommendation(
        Action.CONSIDER_SURGERY,
        f"{why}: conservative care has not relieved the neuroma; consider neurectomy "
        "(or an alternative such as radiofrequency ablation or cryoneurolysis).",
        target_step=NEURECTOMY,
        worsening=worsening,
        trial_ends_on=ends_on,
    )
