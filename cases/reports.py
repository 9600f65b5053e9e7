"""The outcome report: how each treatment kind worked out, aggregated by the database in a fixed number of queries.

``outcome_report()`` returns one ``OutcomeRow`` per treatment kind, in ladder order. Every count, rate
and median is computed in SQL: the treatments are never loaded into Python, so the cost grows with the
database's work, not with Python loops, and the number of queries is the same for ten rows or a million
(two on either database).

Definitions (each per treatment kind, over the treatments *started* within the filters):

- ``rung``: the kind's public rung number (1, 2, 3, 3.5 for the alternatives, 4), as in the API and the
  admin; ``rung_label`` says it in words ("3–4 · alternative").
- ``started``: treatments whose ``started_on`` passes the filters.
- ``complete`` / ``partial`` / ``none`` / ``pending``: their recorded response. The first three rates
  are over the *assessed* treatments (complete + partial + none); ``pending_rate`` is over ``started``.
  A rate is None when its denominator is 0. Rates are fractions (0.25, not 25).
- ``median_walking_pain_change``: the median, over treatments, of walking pain (NRS 0–10) at
  assessment minus walking pain at the start, so a negative value means less pain. Pain at the start
  is the ``pain_walking`` of the presentation's latest visit on or before ``started_on``; pain at
  assessment is that of the latest visit on or before ``response_assessed_on`` and after the start
  visit (that is, seen after ``started_on``, because the start visit is the latest one up to that
  day). Treatments lacking either visit (including every pending treatment) are left out; None when
  none qualify. Visits on the same day are ordered by when they were recorded (``pk``).
- ``escalated``: treatments followed, in the same presentation, by a treatment on a higher ladder
  step started on the same day or later (a higher step started the same day counts: it came after a
  lower one that day). Any later treatment counts, whether or not it passes the report's filters (a
  footwear trial in the date range that escalated after the range still escalated).
  ``median_days_to_escalation``: median days from the start of the treatment to the start of the
  *first* such higher-step treatment.
- ``with_complication``: treatments with at least one recorded complication (however many).
- A median of an even number of values is the mean of the two middle ones.
- ``against_mcid`` (with ``with_mcid=True``, else None): per follow-up time point (6 and 12 months)
  and measure, how many presentations reached the MCID and, for walking pain, the acceptable state
  (NRS ≤ 2), with the number each share rests on (``n``) and how many were missing. The one
  definition is ``cases.followups.reports.outcomes_against_mcid`` (docs/follow-ups.md), over the
  follow-ups of the treatments that pass the filters. Every time point and measure has an entry,
  zeros included; a rate is None when ``n`` is 0. The thresholds are the deployment's
  (``FOLLOW_UP_MCID``), or the clinic's own when the report reads one clinic.

Filters: ``date_from``/``date_to`` bound ``started_on`` inclusively; ``clinician_id`` is the clinician
who started the treatment; ``interspace`` is the presentation's; ``sex`` is the patient's; ``age_band``
is one of ``AGE_BANDS``, by the patient's age in whole years on ``started_on`` (someone born on
29 February turns a year older on 1 March in a non-leap year); ``rung`` (1–4, 3.5) keeps only that rung's
kinds, rows included. ``clinic_ids`` None means every clinic
(for a superuser); otherwise only those clinics' treatments are read (an empty list reads none).

Pain at the start and at assessment and the first escalation's date are stored per treatment in
``TreatmentOutcome`` (kept by ``cases.outcomes`` after every saved visit and treatment, computed by
the same code for bulk loads), so the report is one pass over the filtered treatments joined to
their facts: no lookup per treatment. Complications are tested with an uncorrelated ``IN`` that
PostgreSQL hashes once. The clinic, interspace and sex filters are joins to presentation and patient;
the age band compares dates as YYYYMMDD integers in SQL. docs/benchmarks.md has the timings: the
per-treatment lookups this replaces took about 6 s over 650,000 treatments.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import NotSupportedError, connections, transaction
from django.db.models import (
    Aggregate,
    CharField,
    Count,
    F,
    FloatField,
    Func,
    IntegerField,
    Q,
    QuerySet,
    Value,
    Window,
)
from django.db.models.functions import Cast, RowNumber
from django.utils import timezone

from . import ladder
from .choices import Response, Sex
from .followups import reports as follow_up_reports
from .followups.choices import TimePoint
from .followups.models import ClinicFollowUpSettings
from .models import Complication, Treatment

AGE_BANDS: dict[str, tuple[int | None, int | None]] = {
    "<40": (None, 40),
    "40-49": (40, 50),
    "50-59": (50, 60),
    "60-69": (60, 70),
    "70+": (70, None),
}
"""Age bands by whole years at the treatment's start: band -> (lowest age in it, lowest age above it)."""

KINDS_IN_LADDER_ORDER: tuple[str, ...] = tuple(str(kind) for kind in sorted(ladder.STEP_BY_KIND, key=ladder.step_of))
"""Footwear, orthosis, injection, the three alternatives, neurectomy (``sorted`` keeps the alternatives' order)."""

_COUNTED_RESPONSES = (Response.COMPLETE, Response.PARTIAL, Response.NONE, Response.PENDING)
MCID_TIME_POINTS: tuple[str, ...] = (str(TimePoint.MONTH_6), str(TimePoint.MONTH_12))


@dataclass(frozen=True)
class MeasureAttainment:
    """One measure at one follow-up time point: the presentations reaching its MCID (and acceptable state)."""

    time_point: str
    measure: str
    n: int  # presentations with a baseline and an answer on this measure
    missing: int  # the window closed without an answer on this measure, or no baseline
    mcid_reached: int
    mcid_rate: float | None  # of n, 0–1
    acceptable_reached: int | None  # None for a measure without an acceptable state
    acceptable_rate: float | None  # of n, 0–1
    mcid_source: str


@dataclass(frozen=True)
class OutcomeRow:
    """How one treatment kind worked out; plain values only, so ``dataclasses.asdict`` serialises it."""

    kind: str
    rung: int | float
    rung_label: str
    started: int
    assessed: int
    complete: int
    partial: int
    none: int
    pending: int
    complete_rate: float | None
    partial_rate: float | None
    none_rate: float | None
    pending_rate: float | None
    median_walking_pain_change: float | None
    escalated: int
    escalation_rate: float | None
    median_days_to_escalation: float | None
    with_complication: int
    complication_rate: float | None
    # Only when asked for (``with_mcid=True``): it costs three or four queries more.
    against_mcid: tuple[MeasureAttainment, ...] | None = None

    @property
    def step(self) -> int:
        """The private ladder position, for ordering in Python; what a client reads is ``rung``."""
        return ladder.step_of(self.kind)


class Median(Aggregate):
    """The interpolated median of the non-null values: PostgreSQL's ordered-set aggregate ``percentile_cont``.

    SQLite has no such aggregate; ``outcome_report`` takes its medians with window functions there.
    """

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def as_sql(self, compiler, connection, **extra_context):
        if connection.vendor != "postgresql":
            raise NotSupportedError("Median uses percentile_cont, which only PostgreSQL provides.")
        return super().as_sql(compiler, connection, **extra_context)


class DaysBetween(Func):
    """Whole days from the second date to the first, in plain SQL on PostgreSQL and SQLite."""

    arity = 2
    output_field = IntegerField()
    # PostgreSQL: date - date is already an integer number of days.
    template = "(%(expressions)s)"
    arg_joiner = " - "

    def as_sqlite(self, compiler, connection, **extra_context):
        # Dates are ISO text in SQLite; julianday() turns them into day numbers without any Python function.
        return self.as_sql(
            compiler,
            connection,
            template="CAST(JULIANDAY(%(expressions)s) AS INTEGER)",
            arg_joiner=") - JULIANDAY(",
            **extra_context,
        )


class DateNumber(Func):
    """A date as the integer YYYYMMDD, so whole-year ages are integer comparisons on both databases."""

    arity = 1
    output_field = IntegerField()
    template = "CAST(TO_CHAR(%(expressions)s, 'YYYYMMDD') AS INTEGER)"

    def as_sqlite(self, compiler, connection, **extra_context):
        # The format travels as a parameter: a literal % in the SQL would need backend-specific escaping.
        digits = Func(Value("%Y%m%d"), *self.get_source_expressions(), function="STRFTIME", output_field=CharField())
        return compiler.compile(Cast(digits, IntegerField()))


def _check_filters(*, date_from, date_to, interspace, sex, age_band, rung) -> int | None:
    """Raise ValueError naming the first bad filter; return the ladder position of ``rung`` (None for any)."""
    for name, day in (("date_from", date_from), ("date_to", date_to)):
        if day is not None and not isinstance(day, datetime.date):
            raise ValueError(f"{name} must be a date, not {day!r}.")
    if age_band is not None and age_band not in AGE_BANDS:
        raise ValueError(f"Unknown age band {age_band!r}: choose one of {', '.join(AGE_BANDS)}.")
    if sex is not None and sex not in Sex.values:
        raise ValueError(f"Unknown sex {sex!r}: choose one of {', '.join(Sex.values)}.")
    if interspace is not None and interspace not in (1, 2, 3, 4):
        raise ValueError(f"Interspace must be 1, 2, 3 or 4, not {interspace!r}.")
    if date_from is not None and date_to is not None and date_from > date_to:
        raise ValueError(f"The date range is empty: {date_from} is after {date_to}.")
    return None if rung is None else ladder.step_for_rung(rung)


def filtered_treatments(
    *, clinic_ids, date_from, date_to, clinician_id, interspace, sex=None, age_band=None
) -> QuerySet[Treatment]:
    """The treatments a report's filters keep: the one meaning of each filter, for every figure built on them."""
    treatments = Treatment.objects.all()
    if clinic_ids is not None:
        treatments = treatments.in_clinics(list(clinic_ids))
    if date_from is not None:
        treatments = treatments.filter(started_on__gte=date_from)
    if date_to is not None:
        treatments = treatments.filter(started_on__lte=date_to)
    if clinician_id is not None:
        treatments = treatments.filter(clinician_id=clinician_id)
    if interspace is not None:
        treatments = treatments.filter(presentation__interspace=interspace)
    if sex is not None:
        treatments = treatments.filter(presentation__patient__sex=sex)
    if age_band is not None:
        # Age in whole years >= N exactly when YYYYMMDD(start) - YYYYMMDD(birth) >= N * 10000.
        youngest, too_old = AGE_BANDS[age_band]
        treatments = treatments.alias(
            age_in_digits=DateNumber("started_on") - DateNumber("presentation__patient__birth_date")
        )
        if youngest is not None:
            treatments = treatments.filter(age_in_digits__gte=youngest * 10000)
        if too_old is not None:
            treatments = treatments.filter(age_in_digits__lt=too_old * 10000)
    return treatments


def _with_outcome_facts(treatments: QuerySet[Treatment]) -> QuerySet[Treatment]:
    """Alias each treatment's walking-pain change and days to escalation (NULL when there is none).

    Both come from the facts ``cases.outcomes`` stores per treatment: a join, not a lookup per row.
    """
    return treatments.alias(
        walking_pain_change=F("outcome__pain_walking_at_assessment") - F("outcome__pain_walking_at_start"),
        days_to_escalation=DaysBetween(F("outcome__escalated_on"), F("started_on")),
    )


def _counts_by_kind(treatments: QuerySet[Treatment], *, with_medians: bool) -> dict[str, dict]:
    aggregates = {
        "started": Count("pk"),
        **{response: Count("pk", filter=Q(response=response)) for response in _COUNTED_RESPONSES},
        # COUNT of an expression skips NULLs: the treatments that escalated.
        "escalated": Count("days_to_escalation"),
        # An uncorrelated IN: the database reads the complications once, and a treatment with two counts once.
        "with_complication": Count("pk", filter=Q(pk__in=Complication.objects.values("treatment_id"))),
    }
    if with_medians:
        aggregates["median_walking_pain_change"] = Median("walking_pain_change")
        aggregates["median_days_to_escalation"] = Median("days_to_escalation")
    rows = treatments.order_by().values("kind").annotate(**aggregates)
    return {row.pop("kind"): row for row in rows}


def _medians_by_kind_with_windows(treatments: QuerySet[Treatment]) -> dict[str, dict]:
    """Both medians per kind in one query, for databases without a median aggregate (SQLite).

    Each value is numbered within its kind (NULLs last) and the kind's non-null values are counted;
    the median is the average of the values at positions (n + 1) / 2 and (n + 2) / 2 in integer
    division — the same position twice when n is odd. The ORM builds the numbered rows; the outer
    aggregation is plain SQL over them because the ORM cannot group a windowed queryset.
    """
    ranked = (
        treatments.order_by()
        .annotate(
            pain=F("walking_pain_change"),
            pain_position=Window(
                RowNumber(), partition_by=F("kind"), order_by=F("walking_pain_change").asc(nulls_last=True)
            ),
            pain_count=Window(Count("walking_pain_change"), partition_by=F("kind")),
            days=F("days_to_escalation"),
            days_position=Window(
                RowNumber(), partition_by=F("kind"), order_by=F("days_to_escalation").asc(nulls_last=True)
            ),
            days_count=Window(Count("days_to_escalation"), partition_by=F("kind")),
        )
        .values("kind", "pain", "pain_position", "pain_count", "days", "days_position", "days_count")
    )
    ranked_sql, params = ranked.query.sql_with_params()
    connection = connections[ranked.db]
    q = connection.ops.quote_name

    def middle(value: str) -> str:
        position, count = q(f"{value}_position"), q(f"{value}_count")
        return f"AVG(CASE WHEN {position} IN (({count} + 1) / 2, ({count} + 2) / 2) THEN {q(value)} END)"

    # Every name here is a constant of this module and every value a parameter, so the f-string is safe.
    sql = (
        f"SELECT {q('kind')}, {middle('pain')}, {middle('days')} "  # noqa: S608
        f"FROM ({ranked_sql}) ranked GROUP BY {q('kind')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {
            kind: {"median_walking_pain_change": pain, "median_days_to_escalation": days}
            for kind, pain, days in cursor.fetchall()
        }


def _outcomes_by_kind(treatments: QuerySet[Treatment]) -> dict[str, dict]:
    connection = connections[treatments.db]
    if connection.vendor != "postgresql":
        by_kind = _counts_by_kind(treatments, with_medians=False)
        if by_kind:
            for kind, medians in _medians_by_kind_with_windows(treatments).items():
                by_kind[kind].update(medians)
        return by_kind
    with transaction.atomic(using=treatments.db, savepoint=False), connection.cursor() as cursor:
        # A pass over every treatment costs enough to pass the JIT thresholds, and compiling the plan
        # took longer than it saved (it did with the per-treatment lookups this report once made, about
        # 1 s of 7 over 650,000 treatments). SET LOCAL ends with the transaction; inside a caller's
        # transaction it lasts until that one ends.
        cursor.execute("SET LOCAL jit = off")
        return _counts_by_kind(treatments, with_medians=True)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _median(value) -> float | None:
    return None if value is None else float(value)


def outcome_report(
    *,
    clinic_ids: list[int] | None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    clinician_id: int | None = None,
    interspace: int | None = None,
    sex: str | None = None,
    age_band: str | None = None,
    rung: int | float | str | None = None,
    with_mcid: bool = False,
    today: datetime.date | None = None,
) -> list[OutcomeRow]:
    """One ``OutcomeRow`` per treatment kind in ladder order, kinds without treatments included (see module doc).

    ``clinic_ids`` must be the caller's scoped clinics (``selectors.clinic_ids_for``): None reads every
    clinic. Raises ``ValueError`` with a specific message for an unknown age band or sex, an interspace
    outside 1–4, ``date_from`` after ``date_to``, or a ``rung`` that is not one of the public rung numbers
    (1, 2, 3, 3.5 for the alternatives, 4; ``?rung=2`` is orthosis, as everywhere). With ``rung`` the report has
    only that rung's rows (three for 3.5, one per alternative). ``with_mcid`` adds ``against_mcid`` to each
    row, judged on ``today`` (default: the server's today) for which follow-up windows have closed.
    """
    step = _check_filters(
        date_from=date_from, date_to=date_to, interspace=interspace, sex=sex, age_band=age_band, rung=rung
    )
    kinds = [kind for kind in KINDS_IN_LADDER_ORDER if step is None or ladder.step_of(kind) == step]
    treatments = _with_outcome_facts(
        filtered_treatments(
            clinic_ids=clinic_ids,
            date_from=date_from,
            date_to=date_to,
            clinician_id=clinician_id,
            interspace=interspace,
            sex=sex,
            age_band=age_band,
        )
    )
    if step is not None:
        treatments = treatments.filter(kind__in=kinds)
    by_kind = _outcomes_by_kind(treatments)
    attainment = (
        _attainment_by_kind(treatments, clinic_ids=clinic_ids, today=today or timezone.localdate())
        if with_mcid
        else None
    )

    report = []
    for kind in kinds:
        counts = by_kind.get(kind, {})
        started = counts.get("started", 0)
        complete, partial, none, pending = (counts.get(response, 0) for response in _COUNTED_RESPONSES)
        assessed = complete + partial + none
        escalated = counts.get("escalated", 0)
        with_complication = counts.get("with_complication", 0)
        report.append(
            OutcomeRow(
                kind=kind,
                rung=ladder.rung_of(kind),
                rung_label=ladder.rung_label(ladder.step_of(kind)),
                started=started,
                assessed=assessed,
                complete=complete,
                partial=partial,
                none=none,
                pending=pending,
                complete_rate=_rate(complete, assessed),
                partial_rate=_rate(partial, assessed),
                none_rate=_rate(none, assessed),
                pending_rate=_rate(pending, started),
                median_walking_pain_change=_median(counts.get("median_walking_pain_change")),
                escalated=escalated,
                escalation_rate=_rate(escalated, started),
                median_days_to_escalation=_median(counts.get("median_days_to_escalation")),
                with_complication=with_complication,
                complication_rate=_rate(with_complication, started),
                against_mcid=None if attainment is None else attainment.get(kind, _no_attainment()),
            )
        )
    return report


def _no_attainment() -> tuple[MeasureAttainment, ...]:
    return tuple(
        MeasureAttainment(
            time_point=time_point,
            measure=measure,
            n=0,
            missing=0,
            mcid_reached=0,
            mcid_rate=None,
            acceptable_reached=0 if measure in follow_up_reports.acceptable_states_for() else None,
            acceptable_rate=None,
            mcid_source=threshold.source,
        )
        for time_point in MCID_TIME_POINTS
        for measure, threshold in follow_up_reports.thresholds_for().items()
    )


def _attainment_by_kind(
    treatments: QuerySet[Treatment], *, clinic_ids, today: datetime.date
) -> dict[str, tuple[MeasureAttainment, ...]]:
    """The MCID and acceptable-state counts per kind, from the follow-up loop's one definition (3–4 queries).

    One clinic's report uses that clinic's own thresholds (one more query); several clinics' use the
    deployment's, since one share cannot rest on two definitions.
    """
    clinic_settings = None
    if clinic_ids is not None and len(clinic_ids) == 1:
        clinic_settings = ClinicFollowUpSettings.objects.filter(clinic_id=clinic_ids[0]).first()
    rows = follow_up_reports.outcomes_against_mcid(
        clinics=None if clinic_ids is None else list(clinic_ids),
        today=today,
        time_points=MCID_TIME_POINTS,
        clinic_settings=clinic_settings,
        treatments=treatments,
    )
    found = {(row.kind, row.time_point, row.measure): row for row in rows}
    by_kind: dict[str, tuple[MeasureAttainment, ...]] = {}
    for kind in {row.kind for row in rows}:
        entries = []
        for empty in _no_attainment():
            row = found.get((kind, empty.time_point, empty.measure))
            if row is None:
                entries.append(empty)
                continue
            entries.append(
                MeasureAttainment(
                    time_point=str(row.time_point),
                    measure=row.measure,
                    n=row.n,
                    missing=row.missing,
                    mcid_reached=row.mcid_reached,
                    mcid_rate=_rate(row.mcid_reached, row.n),
                    acceptable_reached=row.acceptable_reached,
                    acceptable_rate=None if row.acceptable_reached is None else _rate(row.acceptable_reached, row.n),
                    mcid_source=row.mcid_source,
                )
            )
        by_kind[kind] = tuple(entries)
    return by_kind
