"""The per-treatment facts the outcome report reads, worked out from a presentation's visits and treatments.

The definitions are those of ``cases.reports`` (its module docstring is the specification):

- walking pain at the start: the latest visit on or before ``started_on``;
- walking pain at assessment: the latest visit after ``started_on`` and on or before
  ``response_assessed_on`` (none while the response is pending);
- escalated on: the start of the first treatment on a higher ladder step started on the same day or later.

Visits on the same day are ordered by when they were recorded (``pk``). ``outcome_facts`` is pure and
takes anything with the models' attributes, so the network generator computes the facts of the rows
it bulk-loads with the same code that ``outcome_facts_refresh`` runs after every saved visit or
treatment. The services call it explicitly, in the write's transaction (every entry point writes through
them); a bulk load computes the facts itself, as the generator does. Nothing refreshes them behind a
caller's back: code that saves a visit or treatment some other way (a shell, a test's factory) calls it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from django.db import models
from django.db.models.functions import Cast

from . import ladder
from .followups.choices import FollowUpStatus
from .models import FollowUp, Treatment, TreatmentOutcome, Visit


@dataclass(frozen=True)
class OutcomeFacts:
    pain_walking_at_start: int | None
    pain_walking_at_assessment: int | None
    escalated_on: datetime.date | None


class _TreatmentRow(NamedTuple):
    pk: int
    kind: str
    started_on: datetime.date
    response_assessed_on: datetime.date | None


class _VisitRow(NamedTuple):
    pk: int
    seen_on: datetime.date
    pain_walking: int


def _latest_pain(visits: Sequence, *, after: datetime.date | None, until: datetime.date) -> int | None:
    # ``visits`` is in (seen_on, pk) order, so the last that qualifies is the latest recorded.
    pain = None
    for visit in visits:
        if visit.seen_on > until:
            break
        if after is None or visit.seen_on > after:
            pain = visit.pain_walking
    return pain


def outcome_facts(treatments: Iterable, visits: Iterable) -> list[tuple[object, OutcomeFacts]]:
    """Each treatment with its facts, given all of one presentation's treatments and visits (with pks)."""
    treatments = list(treatments)
    ordered_visits = sorted(visits, key=lambda v: (v.seen_on, v.pk))
    facts = []
    for treatment in treatments:
        step = ladder.step_of(treatment.kind)
        assessed_on = treatment.response_assessed_on
        escalations = [
            other.started_on
            for other in treatments
            if ladder.step_of(other.kind) > step and other.started_on >= treatment.started_on
        ]
        facts.append(
            (
                treatment,
                OutcomeFacts(
                    pain_walking_at_start=_latest_pain(ordered_visits, after=None, until=treatment.started_on),
                    pain_walking_at_assessment=(
                        _latest_pain(ordered_visits, after=treatment.started_on, until=assessed_on)
                        if assessed_on
                        else None
                    ),
                    escalated_on=min(escalations, default=None),
                ),
            )
        )
    return facts


def outcome_rows(treatments: Iterable, visits: Iterable) -> list[TreatmentOutcome]:
    """Unsaved ``TreatmentOutcome`` rows for saved treatments, ready for a bulk insert or an upsert."""
    return [
        TreatmentOutcome(
            treatment_id=treatment.pk,
            pain_walking_at_start=facts.pain_walking_at_start,
            pain_walking_at_assessment=facts.pain_walking_at_assessment,
            escalated_on=facts.escalated_on,
        )
        for treatment, facts in outcome_facts(treatments, visits)
    ]


class TreatmentRow(NamedTuple):
    """A treatment as the ladder (``ladder.TreatmentFacts``) and the facts read it, with its stored facts."""

    pk: int
    kind: str
    started_on: datetime.date
    ended_on: datetime.date | None
    response: str
    response_assessed_on: datetime.date | None
    justification: str
    stored: OutcomeFacts | None  # None: no TreatmentOutcome row yet
    clinician_id: int | None = None


class VisitRow(NamedTuple):
    pk: int
    seen_on: datetime.date
    pain_walking: int
    clinician_id: int | None = None


class FollowUpRow(NamedTuple):
    """A follow-up not cancelled, as the follow-up plan (``services.follow_up_plan``) compares it."""

    pk: int
    time_point: str
    treatment_id: int | None
    status: str
    due_on: datetime.date
    window_opens_on: datetime.date
    window_closes_on: datetime.date
    clinician_id: int | None

    @property
    def key(self) -> tuple[str, int | None]:
        return (self.time_point, self.treatment_id)


@dataclass(frozen=True)
class PresentationHistory:
    """One presentation's treatments and visits (and, when asked, its follow-ups not cancelled) as plain
    rows, read in one query (``presentation_history``)."""

    treatments: tuple[TreatmentRow, ...]
    visits: tuple[VisitRow, ...]
    follow_ups: tuple[FollowUpRow, ...] | None = None  # None: not read

    def with_record(self, record: Treatment | Visit) -> PresentationHistory:
        """The history once ``record`` (just saved, new or changed) is in it; its stored facts are kept."""
        if isinstance(record, Treatment):
            stored = next((row.stored for row in self.treatments if row.pk == record.pk), None)
            row = TreatmentRow(
                record.pk,
                record.kind,
                record.started_on,
                record.ended_on,
                record.response,
                record.response_assessed_on,
                record.justification,
                stored,
                record.clinician_id,
            )
            others = tuple(t for t in self.treatments if t.pk != record.pk)
            treatments = tuple(sorted((*others, row), key=lambda t: (t.started_on, t.pk)))
            return PresentationHistory(treatments, self.visits, self.follow_ups)
        row = VisitRow(record.pk, record.seen_on, record.pain_walking, record.clinician_id)
        others = tuple(v for v in self.visits if v.pk != record.pk)
        visits = tuple(sorted((*others, row), key=lambda v: (v.seen_on, v.pk)))
        return PresentationHistory(self.treatments, visits, self.follow_ups)


_NO_DATE = models.Value(None, output_field=models.DateField())
_NO_NUMBER = models.Value(None, output_field=models.IntegerField())
_NO_TEXT = models.Value("", output_field=models.TextField())
# Typed: PostgreSQL types a UNION's column from its first two branches, and two bare NULLs make it text.
_NO_ID = Cast(models.Value(None), models.BigIntegerField())
_COLUMNS = ("h_kind", "h_pk", "h_name", "h_day", "h_ended", "h_response", "h_assessed", "h_justification")
_COLUMNS += ("h_pain", "h_clinician", "h_treatment")
_COLUMNS += ("h_stored", "h_stored_start", "h_stored_assessment", "h_stored_escalated")
_TREATMENT, _VISIT, _FOLLOW_UP = 0, 1, 2
_NO_STORED_FACTS = {
    "h_stored": _NO_NUMBER,
    "h_stored_start": _NO_NUMBER,
    "h_stored_assessment": _NO_NUMBER,
    "h_stored_escalated": _NO_DATE,
}


def presentation_history(
    presentation_id: int, *, using: str = "default", follow_ups: bool = False
) -> PresentationHistory:
    """The presentation's treatments (with their stored facts) and visits, in one query (a UNION ALL);
    with ``follow_ups``, its follow-ups not cancelled in the same query.

    Read under the presentation's lock, this is the state every write then changes by one record.
    """
    treatments = (
        Treatment.objects.using(using)
        .filter(presentation_id=presentation_id)
        .order_by()
        .annotate(
            h_kind=models.Value(_TREATMENT),
            h_pk=models.F("pk"),
            h_name=models.F("kind"),
            h_day=models.F("started_on"),
            h_ended=models.F("ended_on"),
            h_response=models.F("response"),
            h_assessed=models.F("response_assessed_on"),
            h_justification=models.F("justification"),
            h_pain=_NO_NUMBER,
            h_clinician=models.F("clinician_id"),
            h_treatment=_NO_ID,
            h_stored=models.F("outcome__pk"),
            h_stored_start=models.F("outcome__pain_walking_at_start"),
            h_stored_assessment=models.F("outcome__pain_walking_at_assessment"),
            h_stored_escalated=models.F("outcome__escalated_on"),
        )
        .values_list(*_COLUMNS)
    )
    visits = (
        Visit.objects.using(using)
        .filter(presentation_id=presentation_id)
        .order_by()
        .annotate(
            h_kind=models.Value(_VISIT),
            h_pk=models.F("pk"),
            h_name=_NO_TEXT,
            h_day=models.F("seen_on"),
            h_ended=_NO_DATE,
            h_response=_NO_TEXT,
            h_assessed=_NO_DATE,
            h_justification=_NO_TEXT,
            h_pain=models.F("pain_walking"),
            h_clinician=models.F("clinician_id"),
            h_treatment=_NO_ID,
            **_NO_STORED_FACTS,
        )
        .values_list(*_COLUMNS)
    )
    parts = [visits]
    if follow_ups:
        # The follow-up's window closes in h_ended, opens in h_assessed; its status rides in h_response.
        parts.append(
            FollowUp.objects.using(using)
            .filter(presentation_id=presentation_id)
            .exclude(status=FollowUpStatus.CANCELLED)
            .order_by()
            .annotate(
                h_kind=models.Value(_FOLLOW_UP),
                h_pk=models.F("pk"),
                h_name=models.F("time_point"),
                h_day=models.F("due_on"),
                h_ended=models.F("window_closes_on"),
                h_response=models.F("status"),
                h_assessed=models.F("window_opens_on"),
                h_justification=_NO_TEXT,
                h_pain=_NO_NUMBER,
                h_clinician=models.F("clinician_id"),
                h_treatment=models.F("treatment_id"),
                **_NO_STORED_FACTS,
            )
            .values_list(*_COLUMNS)
        )
    treatment_rows, visit_rows, follow_up_rows = [], [], []
    for (
        kind,
        pk,
        name,
        day,
        ended,
        response,
        assessed,
        justification,
        pain,
        clinician,
        treatment,
        stored,
        *facts,
    ) in treatments.union(*parts, all=True):
        if kind == _VISIT:
            visit_rows.append(VisitRow(pk, day, pain, clinician))
        elif kind == _FOLLOW_UP:
            follow_up_rows.append(FollowUpRow(pk, name, treatment, response, day, assessed, ended, clinician))
        else:
            treatment_rows.append(
                TreatmentRow(
                    pk,
                    name,
                    day,
                    ended,
                    response,
                    assessed,
                    justification,
                    None if stored is None else OutcomeFacts(*facts),
                    clinician,
                )
            )
    return PresentationHistory(
        tuple(sorted(treatment_rows, key=lambda t: (t.started_on, t.pk))),
        tuple(sorted(visit_rows, key=lambda v: (v.seen_on, v.pk))),
        tuple(sorted(follow_up_rows, key=lambda f: (f.due_on, f.pk))) if follow_ups else None,
    )


def outcome_facts_refresh(
    *, presentation_id: int, using: str = "default", history: PresentationHistory | None = None
) -> None:
    """Recompute and store the facts of every treatment of one presentation (no model instances).

    A visit can change the facts of any treatment of its presentation, and a new treatment the
    escalation of every lower one, so the whole presentation is recomputed: it has a handful of rows.
    Given the ``history`` the writing service read under its lock (with its saved record), no read is
    needed and only the facts that changed are written: one upsert, or nothing when no fact moved.
    Without it, the treatments and visits are read (two queries) and every fact is written.
    """
    if history is not None:
        changed = [
            row
            for row in outcome_rows(history.treatments, history.visits)
            if _stored_of(history, row.treatment_id) != _facts_of(row)
        ]
        if changed:
            _upsert(changed, using)
        return
    treatments = [
        _TreatmentRow(*row)
        for row in Treatment.objects.using(using)
        .filter(presentation_id=presentation_id)
        .values_list("pk", "kind", "started_on", "response_assessed_on")
    ]
    if not treatments:
        return
    visits = [
        _VisitRow(*row)
        for row in Visit.objects.using(using)
        .filter(presentation_id=presentation_id)
        .values_list("pk", "seen_on", "pain_walking")
    ]
    _upsert(outcome_rows(treatments, visits), using)


def _stored_of(history: PresentationHistory, treatment_id: int) -> OutcomeFacts | None:
    return next(row.stored for row in history.treatments if row.pk == treatment_id)


def _facts_of(row: TreatmentOutcome) -> OutcomeFacts:
    return OutcomeFacts(row.pain_walking_at_start, row.pain_walking_at_assessment, row.escalated_on)


def _upsert(rows: list[TreatmentOutcome], using: str) -> None:
    TreatmentOutcome.objects.using(using).bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["treatment"],
        update_fields=["pain_walking_at_start", "pain_walking_at_assessment", "escalated_on"],
    )
