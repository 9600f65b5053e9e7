"""Hand-built JSON for the hottest read, a page of presentations, with exactly the declared serializer's output.

DRF's declarative fields cost a few microseconds each per row; a page of 50 presentations with their
patients and treatments runs a few thousand of them. ``presentation()`` builds the same dict directly
from the loaded row (its annotations and prefetched treatments and visits), so the list costs what
the data costs. ``tests/api/test_representations.py`` holds it equal to the declared fields' output,
which stays the schema and the contract.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from cases import ladder
from cases.models import Presentation, Treatment, Visit

_TENTH = Decimal("0.1")

# What the recommendation, the treatment summaries and the timeline read of a presentation's records.
TREATMENT_FACTS = (
    "presentation_id",
    "kind",
    "started_on",
    "ended_on",
    "response",
    "response_assessed_on",
    "justification",
)
VISIT_FACTS = ("presentation_id", "seen_on", "pain_walking", "pain_rest", "relief_since_previous")


def attach_facts(page: list[Presentation]) -> None:
    """Give each presentation of a page its treatments and visits as plain rows, in two queries for the page.

    The rows carry exactly what ``ladder.TreatmentFacts`` and ``ladder.VisitFacts`` name, in the order
    the ladder reads them (date, then id); ``presentation()`` uses them instead of the related managers.
    """
    by_pk = {p.pk: p for p in page}
    for p in page:
        p.treatment_facts, p.visit_facts = [], []
    treatments = Treatment.objects.filter(presentation_id__in=by_pk).order_by("started_on", "pk")
    for row in treatments.values_list("pk", *TREATMENT_FACTS, named=True):
        by_pk[row.presentation_id].treatment_facts.append(row)
    visits = Visit.objects.filter(presentation_id__in=by_pk).order_by("seen_on", "pk")
    for row in visits.values_list(*VISIT_FACTS, named=True):
        by_pk[row.presentation_id].visit_facts.append(row)


def _day(value: datetime.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def moment(value: datetime.datetime | None) -> str | None:
    """A timestamp as DRF writes it: in the current zone, ISO 8601, UTC as ``Z``."""
    if value is None:
        return None
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def recommendation(rec: ladder.Recommendation) -> dict[str, Any]:
    return {
        "action": rec.action.value,
        "summary": rec.summary,
        "reason": rec.reason,
        "target_rung": rec.target_rung,
        "worsening": rec.worsening,
        "stalled": rec.stalled,
        "trial_ends_on": _day(rec.trial_ends_on),
    }


def treatment_summary(treatment) -> dict[str, Any]:
    return {
        "id": treatment.pk,
        "kind": treatment.kind,
        "rung": ladder.step_of(treatment.kind) / 10,
        "started_on": _day(treatment.started_on),
        "ended_on": _day(treatment.ended_on),
        "response": treatment.response,
        "response_assessed_on": _day(treatment.response_assessed_on),
    }


def presentation(p: Presentation, *, today: datetime.date | None = None) -> dict[str, Any]:
    """One presentation as ``PresentationSerializer`` declares it (load it as ``presentation_list`` does)."""
    patient = p.patient
    treatments = getattr(p, "treatment_facts", None)  # attached by ``attach_facts`` for a list page
    if treatments is None:
        treatments = list(p.treatments.all())
    visits = getattr(p, "visit_facts", None)
    if visits is None:
        visits = list(p.visits.all())
    if hasattr(p, "current_step"):  # annotated by ``with_summary``
        step, last_visit_on = p.current_step, p.last_visit_on
        latest_pain_walking, latest_pain_rest = p.latest_pain_walking, p.latest_pain_rest
    else:  # the same facts, from the prefetched rows (visits in date order, as recorded)
        latest = visits[len(visits) - 1] if visits else None
        step = ladder.highest_step(treatments)
        last_visit_on = latest and latest.seen_on
        latest_pain_walking, latest_pain_rest = latest and latest.pain_walking, latest and latest.pain_rest
    return {
        "id": p.pk,
        "patient": patient.pk,
        "patient_summary": {
            "id": patient.pk,
            "mrn": patient.mrn,
            "given_name": patient.given_name,
            "family_name": patient.family_name,
            "birth_date": _day(patient.birth_date),
            "sex": patient.sex,
        },
        "foot": p.foot,
        "interspace": p.interspace,
        "onset_on": _day(p.onset_on),
        "first_seen_on": _day(p.first_seen_on),
        "symptoms": sorted(p.symptoms or []),
        "aggravating_factors": sorted(p.aggravating_factors or []),
        "relieving_factors": sorted(p.relieving_factors or []),
        "pain_at_rest": p.pain_at_rest,
        "risk_factors": sorted(p.risk_factors or []),
        "exam_signs": sorted(p.exam_signs or []),
        "imaging": p.imaging,
        "size_mm": None if p.size_mm is None else f"{Decimal(p.size_mm).quantize(_TENTH):f}",
        "unusual_size_confirmed": p.unusual_size_confirmed,
        "icd10_code": p.icd10_code,
        "status": p.status,
        "notes": p.notes,
        "current_rung": step / 10 if step else None,
        "current_rung_label": ladder.rung_label(step),
        "last_visit_on": _day(last_visit_on),
        "latest_pain_walking": latest_pain_walking,
        "latest_pain_rest": latest_pain_rest,
        "treatments": [treatment_summary(t) for t in treatments],
        "recommendation": recommendation(
            p.recommendation(today=today or patient.clinic.today(), treatments=treatments, visits=visits)
        ),
        "created_at": moment(p.created_at),
        "updated_at": moment(p.updated_at),
    }
