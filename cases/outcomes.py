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

from . import ladder
from .models import Treatment, TreatmentOutcome, Visit


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


class VisitRow(NamedTuple):
    pk: int
    seen_on: datetime.date
    pain_walking: int


@dataclass(frozen=True)
class PresentationHistory:
    """One presentation's treatments and visits as plain rows, read in one query (``presentation_history``)."""

    treatments: tuple[TreatmentRow, ...]
    visits: tuple[VisitRow, ...]

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
            )
            others = tuple(t for t in self.treatments if t.pk != record.pk)
            return PresentationHistory(tuple(sorted((*others, row), key=lambda t: (t.started_on, t.pk))), self.visits)
        row = VisitRow(record.pk, record.seen_on, record.pain_walking)
        others = tuple(v for v in self.visits if v.pk != record.pk)
        return PresentationHistory(self.treatments, tuple(sorted((*others, row), key=lambda v: (v.seen_on, v.pk))))


_NO_DATE = models.Value(None, output_field=models.DateField())
_NO_NUMBER = models.Value(None, output_field=models.IntegerField())
_NO_TEXT = models.Value("", output_field=models.TextField())
_COLUMNS = ("h_kind", "h_pk", "h_name", "h_day", "h_ended", "h_response", "h_assessed", "h_justification")
_COLUMNS += ("h_pain", "h_stored", "h_stored_start", "h_stored_assessment", "h_stored_escalated")


def presentation_history(presentation_id: int, *, using: str = "default") -> PresentationHistory:
    """The presentation's treatments (with their stored facts) and visits, in one query (a UNION ALL).

    Read under the presentation's lock, this is the state every write then changes by one record.
    """
    treatments = (
        Treatment.objects.using(using)
        .filter(presentation_id=presentation_id)
        .order_by()
        .annotate(
            h_kind=models.Value(0),
            h_pk=models.F("pk"),
            h_name=models.F("kind"),
            h_day=models.F("started_on"),
            h_ended=models.F("ended_on"),
            h_response=models.F("response"),
            h_assessed=models.F("response_assessed_on"),
            h_justification=models.F("justification"),
            h_pain=_NO_NUMBER,
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
            h_kind=models.Value(1),
            h_pk=models.F("pk"),
            h_name=_NO_TEXT,
            h_day=models.F("seen_on"),
            h_ended=_NO_DATE,
            h_response=_NO_TEXT,
            h_assessed=_NO_DATE,
            h_justification=_NO_TEXT,
            h_pain=models.F("pain_walking"),
            h_stored=_NO_NUMBER,
            h_stored_start=_NO_NUMBER,
            h_stored_assessment=_NO_NUMBER,
            h_stored_escalated=_NO_DATE,
        )
        .values_list(*_COLUMNS)
    )
    treatment_rows, visit_rows = [], []
    for kind, pk, name, day, ended, response, assessed, justification, pain, stored, *facts in treatments.union(
        visits, all=True
    ):
        if kind == 1:
            visit_rows.append(VisitRow(pk, day, pain))
            continue
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
            )
        )
    return PresentationHistory(
        tuple(sorted(treatment_rows, key=lambda t: (t.started_on, t.pk))),
        tuple(sorted(visit_rows, key=lambda v: (v.seen_on, v.pk))),
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
