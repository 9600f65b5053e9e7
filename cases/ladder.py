"""The treatment-ladder rules for intermetatarsal neuroma (DOMAIN.md §1 and §4), as plain functions.

Nothing here touches the database or a request: callers pass in the facts (model instances or any
object with the same attributes) and get back violations or a recommendation. Models' `clean()`,
the services, the admin, the API and the management commands all ask this module, so each rule is
written once. Limits and trial lengths come from ``settings.LADDER`` (see ``LadderSettings``).

Positions on the ladder are kept as integers ten times the rung number so that the alternatives,
which sit between rungs 3 and 4, can be ordered and compared in SQL as well as in Python.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple, Protocol

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import translation
from django.utils.formats import date_format

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


def format_day(day: datetime.date) -> str:
    """A day as a person reads it in every ladder text: the active locale's DATE_FORMAT ("8 Nov 2026" in en-gb).

    The same format as the templates' ``{{ day|date }}``, so the review page and the reasons it quotes agree;
    the API's structured fields stay ISO 8601. Remembered per language and day: a page of recommendations
    quotes the same few days again and again, and Django's formatter parses the format string each time.
    """
    return _formatted_day(day, translation.get_language())


@functools.lru_cache(maxsize=4096)
def _formatted_day(day: datetime.date, language: str | None) -> str:
    return date_format(day, "DATE_FORMAT")


@receiver(setting_changed)
def _forget_formatted_days(*, setting: str, **kwargs) -> None:
    if setting in {"DATE_FORMAT", "LANGUAGE_CODE", "FORMAT_MODULE_PATH", "USE_L10N"}:
        _formatted_day.cache_clear()


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


class PlainTreatment(NamedTuple):
    """A treatment's ladder facts (``TreatmentFacts``) as plain values, for readers that judge many
    presentations at once: building a model instance per treatment costs more than judging it."""

    pk: int
    presentation_id: int
    kind: str
    started_on: datetime.date
    ended_on: datetime.date | None
    response: str
    response_assessed_on: datetime.date | None
    justification: str
    clinician_id: int | None


class PlainVisit(NamedTuple):
    """A visit's ladder facts (``VisitFacts``) as plain values, with its presentation."""

    presentation_id: int
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
    # A product default, not a DOMAIN.md rule (it matches the 26-week follow-up of §6a): see settings.LADDER.
    lost_to_follow_up_weeks: int = 26

    @classmethod
    def from_settings(cls) -> LadderSettings:
        conf = settings.LADDER
        return cls(
            trial_weeks=dict(conf["TRIAL_WEEKS"]),
            injection_min_interval_weeks=conf["INJECTION_MIN_INTERVAL_WEEKS"],
            injection_max_per_12_months=conf["INJECTION_MAX_PER_12_MONTHS"],
            worsening_pain_rise=conf["WORSENING_PAIN_RISE"],
            lost_to_follow_up_weeks=conf["LOST_TO_FOLLOW_UP_WEEKS"],
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


def _skips_a_rung(step: int, highest: int) -> bool:
    # More than one rung above the highest tried: an alternative (between 3 and 4) after an injection is not a skip.
    return step - highest > ORTHOSIS - FOOTWEAR


def _is_justified(treatment: TreatmentFacts) -> bool:
    return bool((treatment.justification or "").strip())


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
    if _skips_a_rung(step, highest):
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
                f"this one is {abs(too_close[0] - day).days} days from the injection on {format_day(too_close[0])}. "
                "Record a justification to override.",
            )
        )

    # "At most N in any 12 months": every 12-month window that would contain the new injection.
    limit = conf.injection_max_per_12_months
    dates = sorted([*injections, day])
    for window_start in dates:
        window_end = window_start + relativedelta(months=12)
        if not (window_start <= day < window_end):
            continue
        in_window = [d for d in dates if window_start <= d < window_end]
        if len(in_window) > limit:
            violations.append(
                Violation(
                    Rule.INJECTION_YEARLY_LIMIT,
                    f"At most {limit} corticosteroid injections are allowed in any 12 months; this would be "
                    f"injection {len(in_window)} between {format_day(window_start)} and "
                    f"{format_day(window_end - datetime.timedelta(days=1))}. Record a justification to override.",
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
        if _skips_a_rung(step, highest):
            skipped.append(treatment)
        highest = max(highest, step)
    return skipped


class Measure(StrEnum):
    """The pain measurement a worsening finding rests on (the visit fields of the same names)."""

    PAIN_REST = "pain_rest"
    PAIN_WALKING = "pain_walking"


@dataclass(frozen=True)
class WorseningFinding:
    """One measurement that flags a case as worsening (DOMAIN.md §4), with the visit(s) it was read at.

    Rest pain is a single reading (``value`` at ``seen_on``); a walking-pain rise compares the latest
    visit with the one before (``previous_value`` at ``previous_seen_on``).
    """

    measure: Measure
    seen_on: datetime.date
    value: int
    previous_seen_on: datetime.date | None = None
    previous_value: int | None = None

    @property
    def text(self) -> str:
        if self.measure == Measure.PAIN_REST:
            return f"rest pain {self.value}/10 at the visit of {format_day(self.seen_on)}"
        return (
            f"walking pain {self.previous_value} → {self.value} between "
            f"{format_day(self.previous_seen_on)} and {format_day(self.seen_on)}"
        )


def worsening_evidence(
    visits: Sequence[VisitFacts], *, conf: LadderSettings | None = None
) -> tuple[WorseningFinding, ...]:
    """What flags the case as worsening at its latest visit: rest pain, and walking pain up by the configured
    rise since the visit before. Empty when neither holds (or there is no visit)."""
    conf = conf or LadderSettings.from_settings()
    ordered = sorted(visits, key=lambda v: v.seen_on)
    if not ordered:
        return ()
    latest = ordered[-1]
    findings = []
    if latest.pain_rest > 0:
        findings.append(WorseningFinding(Measure.PAIN_REST, latest.seen_on, latest.pain_rest))
    if len(ordered) > 1:
        previous = ordered[-2]
        if latest.pain_walking - previous.pain_walking >= conf.worsening_pain_rise:
            findings.append(
                WorseningFinding(
                    Measure.PAIN_WALKING, latest.seen_on, latest.pain_walking, previous.seen_on, previous.pain_walking
                )
            )
    return tuple(findings)


class Action(StrEnum):
    STAY = "stay"
    ESCALATE = "escalate"
    CONSIDER_SURGERY = "consider_surgery"
    DISCHARGE = "discharge"
    # Not one of DOMAIN.md §4's four: a case nobody has seen for LOST_TO_FOLLOW_UP_WEEKS cannot be judged on
    # what was recorded then, so the product asks for a review (contact the patient) before any other step.
    REVIEW = "review"


@dataclass(frozen=True)
class Recommendation:
    """The next step for one presentation, the reason a clinician reads, and the facts behind both.

    ``target_step`` is the private ladder position; clients read ``target_rung`` (1–4). ``revision`` is
    set when surgery is considered after a neurectomy. ``last_seen_on`` is the latest contact the
    lost-to-follow-up rule measured from (a visit, or a treatment's start or assessment).
    """

    action: Action
    reason: str
    target_step: int | None = None
    worsening_evidence: tuple[WorseningFinding, ...] = ()
    stalled: bool = False
    lost_to_follow_up: bool = False
    revision: bool = False
    trial_ends_on: datetime.date | None = None
    last_seen_on: datetime.date | None = None

    @property
    def worsening(self) -> bool:
        return bool(self.worsening_evidence)

    @property
    def worsening_text(self) -> str:
        """The findings in words ("rest pain 3/10 at the visit of 8 Nov 2026 and …"), or "" when not worsening."""
        return _and(finding.text for finding in self.worsening_evidence)

    @property
    def target_rung(self) -> int | float | None:
        """The public rung number (1–4) to escalate to, or of the surgery to consider."""
        return rung_of_step(self.target_step)

    @property
    def summary(self) -> str:
        if self.action == Action.CONSIDER_SURGERY and self.revision:
            label = "Consider revision surgery (recurrent or stump neuroma?)"
        else:
            label = {
                Action.STAY: "Stay on the current rung",
                Action.ESCALATE: f"Escalate to {rung_label(self.target_step)}",
                Action.CONSIDER_SURGERY: "Consider surgery",
                Action.DISCHARGE: "Discharge",
                Action.REVIEW: "Review: lost to follow-up",
            }[self.action]
        return f"{label}{' (worsening)' if self.worsening else ''}"


def _and(parts: Iterable[str]) -> str:
    return " and ".join(parts)


def current_treatment(treatments: Sequence[TreatmentFacts]) -> TreatmentFacts | None:
    """The treatment a recommendation judges: the one on the highest rung, the latest on a tie."""
    return max(treatments, key=lambda t: (step_of(t.kind), t.started_on), default=None)


def _last_seen_on(treatments: Sequence[TreatmentFacts], visits: Sequence[VisitFacts]) -> datetime.date:
    """The latest day anyone saw the patient for this presentation: a visit, a treatment started or assessed."""
    days = [v.seen_on for v in visits]
    for treatment in treatments:
        days.append(treatment.started_on)
        if treatment.response_assessed_on:
            days.append(treatment.response_assessed_on)
    return max(days)


def _next_rung(step: int) -> int:
    """The rung one escalates to from ``step`` (below the injection rung only: above it, surgery is considered)."""
    return {FOOTWEAR: ORTHOSIS, ORTHOSIS: INJECTION}[step]


def recommend(
    *,
    treatments: Sequence[TreatmentFacts],
    visits: Sequence[VisitFacts],
    today: datetime.date,
    closed: bool = False,
    conf: LadderSettings | None = None,
) -> Recommendation:
    """What to do next for one presentation, with a reason that cites the dates and measurements behind it.

    The current treatment is the one on the highest rung (the latest, on a tie). Its trial runs its
    length before it is judged. Complete relief is discharged once a later visit confirms it. Partial
    relief is not complete relief: like no relief it escalates one rung, and from the injection rung
    upwards it means surgery is worth considering (revision surgery after a neurectomy). Rest pain or
    rising walking pain marks the case as worsening, and a worsening case is escalated without waiting
    for the trial to end. A case whose trial has ended and whom nobody has seen for
    ``lost_to_follow_up_weeks`` is lost to follow-up: it needs a review before any other step.
    """
    conf = conf or LadderSettings.from_settings()
    evidence = worsening_evidence(visits, conf=conf)
    worsening = bool(evidence)
    worse = _and(finding.text for finding in evidence)
    if closed:
        return Recommendation(Action.DISCHARGE, "The presentation is no longer active.", worsening_evidence=evidence)

    current = current_treatment(treatments)
    if current is None:
        return Recommendation(
            Action.ESCALATE,
            "No treatment recorded yet: start with 1 · footwear modification (wide toe box, low heel, soft sole)"
            + (f"; worsening: {worse}." if worsening else "."),
            target_step=FOOTWEAR,
            worsening_evidence=evidence,
        )

    step = step_of(current.kind)
    ends_on = conf.trial_ends_on(current)
    label = TreatmentKind(current.kind).label.lower()
    weeks = conf.trial_weeks[current.kind]
    # After surgery the same length is a post-operative review period, not a trial of the treatment.
    period = "post-operative review" if step == NEURECTOMY else "trial"
    assessed_on = current.response_assessed_on
    assessed = f" (assessed on {format_day(assessed_on)})" if assessed_on else ""
    last_seen_on = _last_seen_on(treatments, visits)
    facts = {"worsening_evidence": evidence, "trial_ends_on": ends_on, "last_seen_on": last_seen_on}

    if current.response == Response.COMPLETE:
        confirmed_after = assessed_on or current.started_on
        confirmations = [
            v.seen_on
            for v in visits
            if v.seen_on > confirmed_after and v.relief_since_previous == Relief.COMPLETE and v.pain_rest == 0
        ]
        if confirmations and not worsening:
            return Recommendation(
                Action.DISCHARGE,
                f"Complete relief from {label}{assessed}, confirmed at the visit of {format_day(min(confirmations))}.",
                **facts,
            )

    lost = today >= ends_on and today - last_seen_on >= datetime.timedelta(weeks=conf.lost_to_follow_up_weeks)
    stalled = current.response == Response.PENDING and today >= ends_on
    if lost:
        recorded = (
            "no response has been recorded"
            if current.response == Response.PENDING
            else f"the last response recorded was {Response(current.response).label.lower()}{assessed}"
        )
        return Recommendation(
            Action.REVIEW,
            f"Lost to follow-up: nobody has seen the patient since {format_day(last_seen_on)} "
            f"({(today - last_seen_on).days // 7} weeks ago; a case is lost to follow-up after "
            f"{conf.lost_to_follow_up_weeks} weeks without contact). "
            f"The {label} {period} ended on {format_day(ends_on)} and {recorded}"
            + (f"; at the last visit: {worse}" if worsening else "")
            + ". Review the case and contact the patient before deciding the next step.",
            stalled=stalled,
            lost_to_follow_up=True,
            **facts,
        )

    if current.response == Response.COMPLETE:
        reason = f"Complete relief from {label} recorded{assessed}, " + (
            f"but worsening since: {worse}. Review before discharge."
            if worsening
            else "not yet confirmed at a later visit: confirm it at a follow-up visit before discharge."
        )
        return Recommendation(Action.STAY, reason, **facts)

    failed = current.response in (Response.PARTIAL, Response.NONE)
    if not failed and today < ends_on and not worsening:
        return Recommendation(
            Action.STAY,
            f"The {label} {period} ({weeks} weeks) runs until {format_day(ends_on)}: judge the response then.",
            **facts,
        )
    if stalled and not worsening:
        return Recommendation(
            Action.STAY,
            f"The {label} {period} ended on {format_day(ends_on)} and no response has been recorded: "
            "assess and record it.",
            stalled=True,
            **facts,
        )

    trial = f"its {weeks}-week {period} {'ended on' if today >= ends_on else 'runs until'} {format_day(ends_on)}"
    on = f"assessed on {format_day(assessed_on)}; " if assessed_on else ""
    if current.response == Response.NONE:
        why = f"No relief from {label} ({on}{trial})"
    elif current.response == Response.PARTIAL:
        # Only complete relief ends the ladder (DOMAIN.md §1); partial relief counts as a failed rung (§4).
        why = f"Only partial relief from {label} ({on}{trial})"
    else:
        why = f"Worsening during the {label} {period} ({weeks} weeks, until {format_day(ends_on)})"
    if worsening:
        why += f": {worse}" if not failed else f"; worsening since: {worse}"

    if step < INJECTION:
        target = _next_rung(step)
        verdict = ": partial relief does not end the ladder" if current.response == Response.PARTIAL else ""
        return Recommendation(
            Action.ESCALATE,
            f"{why}{verdict}. Escalate to {rung_label(target)}.",
            target_step=target,
            stalled=stalled,
            **facts,
        )
    if step == NEURECTOMY:
        return Recommendation(
            Action.CONSIDER_SURGERY,
            f"{why}. Review for a recurrent or stump neuroma (imaging) and consider revision surgery.",
            target_step=NEURECTOMY,
            revision=True,
            stalled=stalled,
            **facts,
        )
    options = (
        "consider neurectomy"
        if step == ALTERNATIVE
        else "consider neurectomy, or an alternative (alcohol injection, radiofrequency ablation or cryoneurolysis)"
    )
    return Recommendation(
        Action.CONSIDER_SURGERY,
        f"{why}: conservative care has not given complete relief. {options[0].upper()}{options[1:]}.",
        target_step=NEURECTOMY,
        stalled=stalled,
        **facts,
    )
