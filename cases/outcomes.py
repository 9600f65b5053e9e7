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


def outcome_facts_refresh(*, presentation_id: int, using: str = "default") -> None:
    """Recompute and store the facts of every treatment of one presentation (three queries, no model instances).

    A visit can change the facts of any treatment of its presentation, and a new treatment the
    escalation of every lower one, so the whole presentation is redone: it has a handful of rows.
    """
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
    TreatmentOutcome.objects.using(using).bulk_create(
        outcome_rows(treatments, visits),
        update_conflicts=True,
        unique_fields=["treatment"],
        update_fields=["pain_walking_at_start", "pain_walking_at_assessment", "escalated_on"],
    )
