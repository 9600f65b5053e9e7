"""A synthetic regional network of clinics at benchmark scale, bulk-loaded in batches.

Each patient's history is planned by ``cases.demo.patient_plan`` — the same pure planner as the demo,
whose walks obey the ranges and the treatment ladder by construction (the demo proves it by writing
them through the services) — and written here in bulk through ``cases.bulk.bulk_create_clinical``,
the sanctioned bulk path, so the database constraints still check every row. The report's stored
per-treatment facts are computed by ``cases.outcomes`` from the same rows, as a save would.

A few presentations get a long follow-up (a visit a week, 100 visits) so that timelines of that
length exist to measure. The output is deterministic for a seed, a size and a reference day.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction

from cases import demo, ladder, outcomes
from cases.bulk import bulk_create_clinical
from cases.choices import Foot, PresentationStatus, Relief, Response, Role, Sex, Symptom, TreatmentKind
from cases.models import Clinic, Complication, Membership, Patient, Presentation, Treatment, TreatmentOutcome, Visit

DEFAULT_PRESENTATIONS = 200_000
DEFAULT_CLINICS = 20
PODIATRISTS_PER_CLINIC = 5
LONG_FOLLOW_UP_VISITS = 100
SLUG_PREFIX = "network-"
MRN_PREFIX = "NET-"
PATIENTS_PER_BATCH = 2_000


class NetworkExists(Exception):
    """The network's clinics already hold patients: generate into an empty database (or another seed)."""


@dataclass
class NetworkClinic:
    clinic: Clinic
    podiatrists: list = field(default_factory=list)


@dataclass
class NetworkSummary:
    created: Counter = field(default_factory=Counter)

    def line(self) -> str:
        names = ("clinics", "patients", "presentations", "visits", "treatments", "complications")
        return "Created " + ", ".join(f"{self.created[name]:,} {name}" for name in names) + "."


def network_clinics(count: int) -> list[NetworkClinic]:
    """The network's clinics with a clinic admin, a reviewer and podiatrists each; refuses if they have patients."""
    user_model = get_user_model()
    clinics = []
    for number in range(1, count + 1):
        slug = f"{SLUG_PREFIX}{number}"
        clinic, _ = Clinic.objects.get_or_create(slug=slug, defaults={"name": f"Network Foot Clinic {number}"})
        if clinic.patients.exists():
            raise NetworkExists(f"Clinic {slug} already has patients: generate into an empty database.")
        staff = [(f"{slug}-admin", Role.CLINIC_ADMIN), (f"{slug}-reviewer", Role.REVIEWER)]
        staff += [(f"{slug}-podiatrist-{n}", Role.PODIATRIST) for n in range(1, PODIATRISTS_PER_CLINIC + 1)]
        podiatrists = []
        for username, role in staff:
            user, created = user_model.objects.get_or_create(username=username, defaults={"is_staff": True})
            if created:
                user.set_unusable_password()
                user.save()
            Membership.objects.get_or_create(user=user, clinic=clinic, defaults={"role": role})
            if role == Role.PODIATRIST:
                podiatrists.append(user)
        clinics.append(NetworkClinic(clinic, podiatrists))
    return clinics


def _patient_row(plan: demo.PatientPlan, clinic: Clinic) -> Patient:
    return Patient(
        clinic=clinic,
        mrn=f"{MRN_PREFIX}{plan.number:07d}",
        given_name=plan.given_name,
        family_name=plan.family_name,
        birth_date=plan.birth_date,
        sex=plan.sex,
        phone=plan.phone,
        email=plan.email,
    )


def _history_rows(
    presentation: Presentation, events: list, clinician
) -> tuple[list[Visit], list[Treatment], list[tuple[demo.ComplicationPlan, Treatment]]]:
    """The planned events as unsaved rows, each treatment already in its final (assessed) state."""
    visits, treatments, complications, by_plan = [], [], [], {}
    for event, plan in events:
        if event == "visit":
            visits.append(Visit(presentation=presentation, clinician=clinician, **plan.fields()))
        elif event == "start":
            by_plan[plan.pk] = Treatment(
                presentation=presentation,
                kind=plan.kind,
                clinician=clinician,
                started_on=plan.started_on,
                ended_on=plan.ended_on,
                justification=plan.justification,
                response=plan.response,
                response_assessed_on=plan.response_assessed_on,
                **plan.details,
            )
            treatments.append(by_plan[plan.pk])
        elif event == "complication":
            complications.append((plan, by_plan[plan.treatment.pk]))
    return visits, treatments, complications


def _write_batch(plans: list[tuple[demo.PatientPlan, NetworkClinic]], summary: NetworkSummary) -> None:
    """One batch of patients, all or nothing: patients, presentations, visits and treatments, complications, facts."""
    with transaction.atomic():
        patients = bulk_create_clinical(Patient, [_patient_row(plan, network.clinic) for plan, network in plans])
        presentations, clinicians = [], []
        for (plan, network), patient in zip(plans, patients, strict=True):
            clinician = network.podiatrists[plan.clinician_pick % len(network.podiatrists)]
            for presentation_plan in plan.presentations:
                presentations.append((Presentation(patient=patient, **presentation_plan.fields), presentation_plan))
                clinicians.append(clinician)
        bulk_create_clinical(Presentation, [presentation for presentation, _ in presentations])

        histories = [
            _history_rows(presentation, presentation_plan.events, clinician)
            for (presentation, presentation_plan), clinician in zip(presentations, clinicians, strict=True)
        ]
        _write_histories(histories, summary)
        summary.created.update(patients=len(patients), presentations=len(presentations))


def _write_histories(histories: list, summary: NetworkSummary) -> None:
    visits = [visit for history in histories for visit in history[0]]
    treatments = [treatment for history in histories for treatment in history[1]]
    bulk_create_clinical(Visit, visits)
    bulk_create_clinical(Treatment, treatments)
    complications = [
        Complication(treatment=treatment, kind=plan.kind, occurred_on=plan.occurred_on, notes=plan.notes)
        for history in histories
        for plan, treatment in history[2]
    ]
    bulk_create_clinical(Complication, complications)
    # Derived facts, not clinical record: no history to write, so the plain bulk insert.
    TreatmentOutcome.objects.bulk_create(
        [row for visits_of, treatments_of, _ in histories for row in outcomes.outcome_rows(treatments_of, visits_of)],
        batch_size=5000,
    )
    summary.created.update(visits=len(visits), treatments=len(treatments), complications=len(complications))


def long_follow_up_plan(number: int, today: datetime.date) -> demo.PatientPlan:
    """A patient followed weekly for ``LONG_FOLLOW_UP_VISITS`` visits: footwear (partial relief), then an orthosis."""
    first_seen_on = today - datetime.timedelta(weeks=LONG_FOLLOW_UP_VISITS - 1)
    footwear = demo.TreatmentPlan(TreatmentKind.FOOTWEAR_MODIFICATION, first_seen_on, pk=1)
    footwear.response, footwear.response_assessed_on = Response.PARTIAL, first_seen_on + datetime.timedelta(weeks=6)
    orthosis = demo.TreatmentPlan(
        TreatmentKind.ORTHOSIS, footwear.response_assessed_on, pk=2, details={"orthosis_type": "custom_orthosis"}
    )
    events: list = [("start", footwear), ("start", orthosis)]
    for week in range(LONG_FOLLOW_UP_VISITS):
        pain = max(1, 7 - week // 15)
        relief = "" if week == 0 else Relief.PARTIAL
        events.append(("visit", demo.VisitPlan(first_seen_on + datetime.timedelta(weeks=week), pain, 0, relief)))
    fields = {
        "foot": Foot.RIGHT,
        "interspace": 3,
        "first_seen_on": first_seen_on,
        "symptoms": [Symptom.BURNING, Symptom.STONE_SENSATION],
        "status": PresentationStatus.ACTIVE,
        "notes": "Followed up weekly.",
    }
    return demo.PatientPlan(
        number=number,
        mrn="",
        given_name="Grace",
        family_name="Weekly",
        birth_date=first_seen_on.replace(year=first_seen_on.year - 55, day=1),
        sex=Sex.FEMALE,
        phone="",
        email="",
        clinician_pick=0,
        presentations=[demo.PresentationPlan(fields=fields, events=events)],
    )


def generate(
    *,
    presentations: int = DEFAULT_PRESENTATIONS,
    clinics: int = DEFAULT_CLINICS,
    seed: int = demo.DEFAULT_SEED,
    today: datetime.date,
    long_follow_ups: int = 3,
    on_presentations: Callable[[int], None] = lambda count: None,
) -> NetworkSummary:
    """Load about ``presentations`` presentations (exactly, counting the long follow-ups) over ``clinics`` clinics."""
    summary = NetworkSummary()
    network = network_clinics(clinics)
    summary.created["clinics"] = len(network)
    conf = ladder.LadderSettings.from_settings()
    batch: list[tuple[demo.PatientPlan, NetworkClinic]] = []
    planned, number = 0, 0
    for _ in range(min(long_follow_ups, presentations)):
        number += 1
        batch.append((long_follow_up_plan(number, today), network[(number - 1) % len(network)]))
        planned += 1
    while planned < presentations:
        number += 1
        plan = demo.patient_plan(seed=seed, number=number, today=today, conf=conf)
        plan.presentations = plan.presentations[: presentations - planned]
        planned += len(plan.presentations)
        batch.append((plan, network[(number - 1) % len(network)]))
        if len(batch) >= PATIENTS_PER_BATCH:
            _flush(batch, summary, on_presentations)
            batch = []
    _flush(batch, summary, on_presentations)
    return summary


def _flush(batch: list, summary: NetworkSummary, on_presentations: Callable[[int], None]) -> None:
    if batch:
        _write_batch(batch, summary)
        on_presentations(sum(len(plan.presentations) for plan, _ in batch))
