"""The five collections over HTTP: create, read, change, list and filter, and the clinical rules they answer with."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.db import models

from api.concurrency import etag_for
from cases.choices import (
    ComplicationKind,
    InjectionDrug,
    PresentationStatus,
    Relief,
    Response,
    Role,
    TreatmentKind,
)
from cases.models import Complication, Patient, Presentation, Treatment, Visit
from tests.factories import (
    ComplicationFactory,
    MembershipFactory,
    PatientFactory,
    PresentationFactory,
    TreatmentFactory,
    VisitFactory,
)

from .test_errors import assert_problem

DAY = datetime.timedelta(days=1)
WEEK = datetime.timedelta(weeks=1)
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9_]*$")
INJECTION = {
    "kind": TreatmentKind.CORTICOSTEROID_INJECTION,
    "injection_drug": InjectionDrug.METHYLPREDNISOLONE_ACETATE,
    "dose_mg": Decimal("40"),
    "volume_ml": Decimal("1.0"),
}


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (Patient, Presentation, Visit, Treatment, Complication)}


def keys_of(value) -> set[str]:
    """Every key in a JSON document, nested ones included."""
    if isinstance(value, dict):
        return set(value) | {key for nested in value.values() for key in keys_of(nested)}
    if isinstance(value, list):
        return {key for nested in value for key in keys_of(nested)}
    return set()


def presentation_in(clinic, first_seen_on: datetime.date, **fields) -> Presentation:
    fields.setdefault("patient", PatientFactory(clinic=clinic))
    return PresentationFactory(onset_on=None, first_seen_on=first_seen_on, **fields)


@pytest.fixture
def today(clinic) -> datetime.date:
    return clinic.today()


@dataclass
class Case:
    """A presentation on its third rung: footwear, orthosis, then a corticosteroid injection with a complication."""

    first_seen_on: datetime.date
    patient: Patient
    presentation: Presentation
    visit: Visit
    footwear: Treatment
    orthosis: Treatment
    injection: Treatment
    complication: Complication

    def record(self, resource: str) -> models.Model:
        return {
            "patients": self.patient,
            "presentations": self.presentation,
            "visits": self.visit,
            "treatments": self.injection,
            "complications": self.complication,
        }[resource]

    def url(self, resource: str) -> str:
        return f"/api/v1/{resource}/{self.record(resource).pk}/"


@pytest.fixture
def case(clinic, podiatrist, today) -> Case:
    first_seen = today - 200 * DAY
    presentation = presentation_in(clinic, first_seen)
    injection = TreatmentFactory(
        presentation=presentation, started_on=first_seen + 12 * WEEK, clinician=podiatrist, **INJECTION
    )
    return Case(
        first_seen_on=first_seen,
        patient=presentation.patient,
        presentation=presentation,
        visit=VisitFactory(presentation=presentation, clinician=podiatrist, pain_walking=6),
        footwear=TreatmentFactory(presentation=presentation, clinician=podiatrist),
        orthosis=TreatmentFactory(
            presentation=presentation,
            kind=TreatmentKind.ORTHOSIS,
            orthosis_type="metatarsal_pad",
            started_on=first_seen + 6 * WEEK,
            clinician=podiatrist,
        ),
        injection=injection,
        complication=ComplicationFactory(treatment=injection, kind=ComplicationKind.SKIN_DEPIGMENTATION),
    )


NEW_PATIENT = {
    "mrn": "NS-2001",
    "given_name": "Grace",
    "family_name": "Newcomer",
    "birth_date": "1971-09-02",
    "sex": "female",
    "phone": "+44 20 7946 0001",
    "email": "grace@example.test",
}


@dataclass(frozen=True)
class ResourceSpec:
    """How to exercise one collection: a valid new record, a change, a required field, the parent it hangs on."""

    create: Callable[[Case], dict]
    expected: Callable[[Case], dict]
    change: Callable[[Case], dict]
    required: str
    parent: str


SPECS = {
    "patients": ResourceSpec(
        create=lambda case: dict(NEW_PATIENT),
        expected=lambda case: {"clinic": case.patient.clinic_id, "sex": "female", "archived": False},
        change=lambda case: {"phone": "+44 20 7946 0999"},
        required="family_name",
        parent="clinic",
    ),
    "presentations": ResourceSpec(
        create=lambda case: {
            "patient": case.patient.pk,
            "foot": "left",
            "interspace": 3,
            "onset_on": str(case.first_seen_on - 30 * DAY),
            "first_seen_on": str(case.first_seen_on),
            "symptoms": ["stone_sensation", "burning"],
            "aggravating_factors": ["footwear", "walking"],
            "relieving_factors": ["shoe_removal"],
            "risk_factors": ["high_heels_or_narrow_shoes"],
            "exam_signs": ["mulder_click", "web_space_tenderness"],
            "imaging": "ultrasound",
            "size_mm": "5.2",
        },
        expected=lambda case: {
            "foot": "left",
            "status": "active",
            "imaging": "ultrasound",
            "symptoms": ["burning", "stone_sensation"],
            "icd10_code": "G57.6",
            "size_mm": "5.2",
        },
        change=lambda case: {"status": PresentationStatus.RESOLVED},
        required="first_seen_on",
        parent="patient",
    ),
    "visits": ResourceSpec(
        create=lambda case: {
            "presentation": case.presentation.pk,
            "seen_on": str(case.first_seen_on + 16 * WEEK),
            "pain_walking": 4,
            "pain_rest": 0,
            "moxfq_walking_standing": 46,
            "moxfq_pain": 50,
            "moxfq_social": 31,
            "relief_since_previous": "partial",
        },
        expected=lambda case: {"relief_since_previous": "partial", "pain_walking": 4, "moxfq_pain": 50},
        change=lambda case: {"pain_walking": 3, "notes": "Better in wide shoes."},
        required="pain_walking",
        parent="presentation",
    ),
    "treatments": ResourceSpec(
        create=lambda case: {
            "presentation": case.presentation.pk,
            "kind": "corticosteroid_injection",
            "injection_drug": "triamcinolone_acetonide",
            "dose_mg": "40.0",
            "volume_ml": "1.5",
            "ultrasound_guided": True,
            "started_on": str(case.injection.started_on + 6 * WEEK),
        },
        expected=lambda case: {
            "kind": "corticosteroid_injection",
            "injection_drug": "triamcinolone_acetonide",
            "rung": 3.0,
            "response": "pending",
            "complications": [],
        },
        change=lambda case: {
            "response": Response.PARTIAL,
            "response_assessed_on": str(case.injection.started_on + 4 * WEEK),
        },
        required="started_on",
        parent="presentation",
    ),
    "complications": ResourceSpec(
        create=lambda case: {
            "treatment": case.injection.pk,
            "kind": "fat_pad_atrophy",
            "occurred_on": str(case.injection.started_on + 8 * WEEK),
        },
        expected=lambda case: {"kind": "fat_pad_atrophy", "resolved": False, "resolved_on": None},
        change=lambda case: {"resolved": True, "resolved_on": str(case.complication.occurred_on + 6 * WEEK)},
        required="occurred_on",
        parent="treatment",
    ),
}
RESOURCES = list(SPECS)


# Create, retrieve, PATCH, PUT — every collection


@pytest.mark.parametrize("resource", RESOURCES)
def test_create_answers_201_with_location_etag_and_the_record(api, case, resource):
    spec = SPECS[resource]
    before = row_counts()

    response = api.post(f"/api/v1/{resource}/", spec.create(case), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"] == f"http://testserver/api/v1/{resource}/{body['id']}/"
    stored = type(case.record(resource)).objects.get(pk=body["id"])
    assert response["ETag"] == etag_for(stored)
    assert body.items() >= spec.expected(case).items()
    assert all(SNAKE_CASE.match(key) for key in keys_of(body)), sorted(keys_of(body))
    counts = row_counts()
    assert counts.pop(type(stored).__name__) == before.pop(type(stored).__name__) + 1
    assert counts == before


@pytest.mark.parametrize("resource", RESOURCES)
def test_location_of_a_created_record_reads_it_back_with_the_same_etag(api, case, resource):
    created = api.post(f"/api/v1/{resource}/", SPECS[resource].create(case), format="json")

    response = api.get(created["Location"])

    assert response.status_code == 200
    assert response.json() == created.json()
    assert response["ETag"] == created["ETag"]


@pytest.mark.parametrize("resource", RESOURCES)
def test_retrieve_answers_the_record_with_its_etag(api, case, resource):
    record = case.record(resource)

    response = api.get(case.url(resource))

    assert response.status_code == 200
    assert response.json()["id"] == record.pk
    assert response["ETag"] == etag_for(record)


@pytest.mark.parametrize("resource", RESOURCES)
def test_patch_changes_only_the_fields_sent(api, case, resource):
    change = SPECS[resource].change(case)
    before = api.get(case.url(resource))

    response = api.patch(case.url(resource), change, format="json")

    assert response.status_code == 200, response.content
    after = response.json()
    assert {name: after[name] for name in change} == change
    unchanged = set(after) - set(change) - {"updated_at", "recommendation", "complications"}
    assert {name: after[name] for name in unchanged} == {name: before.json()[name] for name in unchanged}
    assert response["ETag"] != before["ETag"]
    assert response["ETag"] == etag_for(type(case.record(resource)).objects.get(pk=after["id"]))


@pytest.mark.parametrize("resource", RESOURCES)
def test_put_replaces_the_record(api, case, resource):
    change = SPECS[resource].change(case)
    full = {**api.get(case.url(resource)).json(), **change}

    response = api.put(case.url(resource), full, format="json")

    assert response.status_code == 200, response.content
    assert {name: response.json()[name] for name in change} == change
    stored = type(case.record(resource)).objects.get(pk=case.record(resource).pk)
    for name, value in change.items():
        assert str(getattr(stored, name)) == str(value)


@pytest.mark.parametrize("resource", RESOURCES)
def test_put_without_a_required_field_answers_400_and_changes_nothing(api, case, resource):
    required = SPECS[resource].required
    full = api.get(case.url(resource)).json()
    del full[required]
    record = case.record(resource)

    response = api.put(case.url(resource), full, format="json")

    assert "required" in " ".join(assert_problem(response, 400)["errors"][required])
    assert etag_for(type(record).objects.get(pk=record.pk)) == etag_for(record)


def _another_parent(case: Case, resource: str, other_clinic) -> models.Model:
    """A second parent the record could wrongly be moved under (in the same clinic, except for patients)."""
    if resource == "patients":
        return other_clinic
    if resource == "presentations":
        return PatientFactory(clinic=case.patient.clinic)
    if resource in ("visits", "treatments"):
        return presentation_in(case.patient.clinic, case.first_seen_on)
    return case.orthosis


@pytest.mark.parametrize("resource", RESOURCES)
def test_moving_a_record_to_another_parent_answers_400_naming_the_parent(
    bearer, podiatrist, other_clinic, case, resource
):
    # Writing in both clinics, so that even a move between clinics would be allowed if it were possible.
    MembershipFactory(user=podiatrist, clinic=other_clinic, role=Role.PODIATRIST)
    client = bearer(podiatrist)
    parent_field = SPECS[resource].parent
    record = case.record(resource)
    original_parent = getattr(record, f"{parent_field}_id")
    move = {parent_field: _another_parent(case, resource, other_clinic).pk}

    patched = client.patch(case.url(resource), move, format="json")
    replaced = client.put(case.url(resource), {**client.get(case.url(resource)).json(), **move}, format="json")

    for response in (patched, replaced):
        message = " ".join(assert_problem(response, 400)["errors"][parent_field])
        assert f"cannot move to another {parent_field}" in message
    record.refresh_from_db()
    assert getattr(record, f"{parent_field}_id") == original_parent
    assert etag_for(record) == etag_for(case.record(resource))


@pytest.mark.parametrize("resource", RESOURCES)
def test_sending_the_same_parent_back_is_accepted(api, case, resource):
    parent_field = SPECS[resource].parent
    same = {parent_field: getattr(case.record(resource), f"{parent_field}_id"), **SPECS[resource].change(case)}

    response = api.patch(case.url(resource), same, format="json")

    assert response.status_code == 200, response.content
    assert response.json()[parent_field] == same[parent_field]


# Patients


def test_single_clinic_user_registers_a_patient_in_their_clinic(api, clinic):
    response = api.post("/api/v1/patients/", NEW_PATIENT, format="json")
    assert response.status_code == 201
    assert Patient.objects.get(pk=response.json()["id"]).clinic == clinic


def test_multi_clinic_user_must_name_the_clinic_when_registering_a_patient(bearer, podiatrist, other_clinic):
    MembershipFactory(user=podiatrist, clinic=other_clinic, role=Role.CLINIC_ADMIN)
    client = bearer(podiatrist)
    body = NEW_PATIENT

    refused = client.post("/api/v1/patients/", body, format="json")
    named = client.post("/api/v1/patients/", {**body, "clinic": other_clinic.pk}, format="json")

    assert "Give the clinic" in " ".join(assert_problem(refused, 400)["errors"]["clinic"])
    assert named.status_code == 201
    assert Patient.objects.get().clinic == other_clinic


def test_duplicate_medical_record_number_in_a_clinic_answers_409_and_writes_nothing(api, clinic):
    PatientFactory(clinic=clinic, mrn="NS-2001")
    before = row_counts()

    response = api.post("/api/v1/patients/", NEW_PATIENT, format="json")

    problem = assert_problem(response, 409)
    assert "medical record number already exists" in " ".join(problem["errors"]["non_field_errors"])
    assert "rules" not in problem
    assert row_counts() == before


def test_changing_a_medical_record_number_to_a_taken_one_answers_409(api, case):
    PatientFactory(clinic=case.patient.clinic, mrn="NS-TAKEN")

    response = api.patch(case.url("patients"), {"mrn": "NS-TAKEN"}, format="json")

    assert_problem(response, 409)
    assert Patient.objects.get(pk=case.patient.pk).mrn != "NS-TAKEN"


def test_same_medical_record_number_in_another_clinic_is_accepted(api, other_clinic):
    PatientFactory(clinic=other_clinic, mrn="NS-2001")
    response = api.post("/api/v1/patients/", NEW_PATIENT, format="json")
    assert response.status_code == 201


def test_archive_marks_the_patient_archived_and_keeps_the_record(api, case):
    response = api.post(f"{case.url('patients')}archive/")

    assert response.status_code == 200
    assert response.json()["archived"] is True
    case.patient.refresh_from_db()
    assert case.patient.archived is True
    assert response["ETag"] == etag_for(case.patient)
    assert api.get(case.url("patients")).json()["archived"] is True


def test_archived_patient_cannot_get_a_new_presentation(api, case):
    api.post(f"{case.url('patients')}archive/")
    before = row_counts()

    response = api.post(
        "/api/v1/presentations/", {**SPECS["presentations"].create(case), "foot": "right"}, format="json"
    )

    assert "archived" in " ".join(assert_problem(response, 400)["errors"]["patient"])
    assert row_counts() == before


def test_archived_field_is_changed_only_by_the_archive_action(api, case):
    response = api.patch(case.url("patients"), {"archived": True}, format="json")
    assert response.status_code == 200
    assert response.json()["archived"] is False


def test_patients_filter_by_mrn_name_birth_date_sex_and_archived(api, clinic):
    ada = PatientFactory(
        clinic=clinic, mrn="NS-1", given_name="Ada", family_name="Lovelace", birth_date=datetime.date(1960, 1, 1)
    )
    bob = PatientFactory(
        clinic=clinic,
        mrn="NS-2",
        given_name="Bob",
        family_name="Ashby",
        sex="male",
        birth_date=datetime.date(1980, 6, 1),
    )
    cyd = PatientFactory(
        clinic=clinic,
        mrn="NS-3",
        given_name="Cyd",
        family_name="Adalind",
        archived=True,
        birth_date=datetime.date(1990, 3, 1),
    )
    patients = "/api/v1/patients/"

    assert ids(api.get(patients, {"mrn": "NS-2"})) == [bob.pk]
    assert set(ids(api.get(patients, {"name": "ada"}))) == {ada.pk, cyd.pk}
    assert ids(api.get(patients, {"birth_date_after": "1970-01-01", "birth_date_before": "1985-12-31"})) == [bob.pk]
    assert ids(api.get(patients, {"sex": "male"})) == [bob.pk]
    assert ids(api.get(patients, {"archived": "true"})) == [cyd.pk]
    assert set(ids(api.get(patients, {"archived": "0"}))) == {ada.pk, bob.pk}


def test_patients_order_by_mrn_and_birth_date(api, clinic):
    late = PatientFactory(clinic=clinic, mrn="NS-A", birth_date=datetime.date(1990, 1, 1))
    early = PatientFactory(clinic=clinic, mrn="NS-B", birth_date=datetime.date(1950, 1, 1))
    patients = "/api/v1/patients/"

    assert ids(api.get(patients)) == [early.pk, late.pk]  # newest first by default
    assert ids(api.get(patients, {"ordering": "mrn"})) == [late.pk, early.pk]
    assert ids(api.get(patients, {"ordering": "-mrn"})) == [early.pk, late.pk]
    assert ids(api.get(patients, {"ordering": "birth_date"})) == [early.pk, late.pk]


# Presentations: what a clinician scans


def test_new_presentation_reads_with_no_rung_and_a_start_on_footwear(api, case):
    response = api.post("/api/v1/presentations/", SPECS["presentations"].create(case), format="json")

    body = response.json()
    assert body["current_rung"] is None
    assert body["current_rung_label"] == "—"
    assert body["last_visit_on"] is None
    assert body["latest_pain_walking"] is None
    assert body["recommendation"]["action"] == "escalate"
    assert body["recommendation"]["target_rung"] == 1


def test_presentation_reads_with_patient_summary_rung_latest_pain_and_recommendation(api, clinic, podiatrist, today):
    first_seen = today - 120 * DAY
    presentation = presentation_in(clinic, first_seen)
    TreatmentFactory(presentation=presentation, response=Response.NONE, response_assessed_on=first_seen + 6 * WEEK)
    TreatmentFactory(
        presentation=presentation,
        kind=TreatmentKind.ORTHOSIS,
        orthosis_type="custom_orthosis",
        started_on=first_seen + 6 * WEEK,
        response=Response.NONE,
        response_assessed_on=first_seen + 12 * WEEK,
    )
    VisitFactory(presentation=presentation, seen_on=first_seen, pain_walking=7, pain_rest=0)
    VisitFactory(
        presentation=presentation,
        seen_on=first_seen + 12 * WEEK,
        pain_walking=6,
        pain_rest=0,
        relief_since_previous=Relief.NONE,
    )

    body = api.get(f"/api/v1/presentations/{presentation.pk}/").json()

    patient = presentation.patient
    assert body["patient_summary"] == {
        "id": patient.pk,
        "mrn": patient.mrn,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "birth_date": str(patient.birth_date),
        "sex": "female",
    }
    assert body["current_rung"] == 2
    assert body["current_rung_label"] == "2 · orthosis"
    assert body["latest_pain_walking"] == 6
    assert body["latest_pain_rest"] == 0
    assert body["last_visit_on"] == str(first_seen + 12 * WEEK)
    assert body["recommendation"]["action"] == "escalate"
    assert body["recommendation"]["target_rung"] == 3
    assert body["recommendation"]["worsening"] is False


def test_presentation_on_an_alternative_reads_as_rung_three_and_a_half(api, case):
    TreatmentFactory(
        presentation=case.presentation,
        kind=TreatmentKind.RADIOFREQUENCY_ABLATION,
        started_on=case.first_seen_on + 20 * WEEK,
    )
    body = api.get(case.url("presentations")).json()
    assert body["current_rung"] == 3.5
    assert body["current_rung_label"] == "3–4 · alternative"


def test_next_step_answers_the_presentations_recommendation(api, case):
    next_step = api.get(f"{case.url('presentations')}next-step/")

    assert next_step.status_code == 200
    assert next_step.json() == api.get(case.url("presentations")).json()["recommendation"]
    assert set(next_step.json()) == {
        "action",
        "summary",
        "reason",
        "target_rung",
        "worsening",
        "worsening_evidence",
        "stalled",
        "lost_to_follow_up",
        "revision",
        "last_seen_on",
        "trial_ends_on",
    }


def test_next_step_cites_the_measurement_that_makes_a_case_worsening(api, case, podiatrist):
    VisitFactory(presentation=case.presentation, seen_on=case.first_seen_on + 13 * WEEK, pain_walking=6, pain_rest=2)

    advice = api.get(f"{case.url('presentations')}next-step/").json()

    assert advice["worsening"] is True
    [finding] = advice["worsening_evidence"]
    assert (finding["measure"], finding["value"], finding["seen_on"]) == (
        "pain_rest",
        2,
        str(case.first_seen_on + 13 * WEEK),
    )
    assert finding["text"] in advice["reason"]


def test_timeline_lists_visits_treatments_and_complications_in_date_order(api, case):
    response = api.get(f"{case.url('presentations')}timeline/")

    assert response.status_code == 200
    events = response.json()["events"]
    assert [event["date"] for event in events] == sorted(event["date"] for event in events)
    assert [(event["event"], event["id"]) for event in events] == [
        ("treatment_started", case.footwear.pk),
        ("visit", case.visit.pk),
        ("treatment_started", case.orthosis.pk),
        ("treatment_started", case.injection.pk),
        ("complication", case.complication.pk),
    ]
    assert response.json()["pain_trajectory"] == [{"date": str(case.first_seen_on), "pain_walking": 6, "pain_rest": 0}]


def test_second_active_presentation_for_the_same_site_answers_409(api, case):
    body = {
        **SPECS["presentations"].create(case),
        "foot": case.presentation.foot,
        "interspace": case.presentation.interspace,
    }
    before = row_counts()

    problem = assert_problem(api.post("/api/v1/presentations/", body, format="json"), 409)

    assert "already has an active presentation" in " ".join(problem["errors"]["non_field_errors"])
    assert row_counts() == before


def test_unusually_large_neuroma_needs_confirmation(api, case):
    body = {**SPECS["presentations"].create(case), "size_mm": "24.0"}

    refused = api.post("/api/v1/presentations/", body, format="json")
    confirmed = api.post("/api/v1/presentations/", {**body, "unusual_size_confirmed": True}, format="json")

    assert "size_mm" in assert_problem(refused, 400)["errors"]
    assert confirmed.status_code == 201


@pytest.fixture
def ladder_positions(clinic, podiatrist, clinic_admin, today):
    """One presentation at each ladder position, by rung (0 = nothing tried yet)."""
    first_seen = today - 300 * DAY
    kinds = [
        (TreatmentKind.FOOTWEAR_MODIFICATION, {}),
        (TreatmentKind.ORTHOSIS, {"orthosis_type": "metatarsal_pad"}),
        (TreatmentKind.CORTICOSTEROID_INJECTION, {"injection_drug": InjectionDrug.DEXAMETHASONE}),
        (TreatmentKind.CRYONEUROLYSIS, {}),
        (TreatmentKind.NEURECTOMY, {"approach": "dorsal"}),
    ]
    positions = {}
    for rung, climbed in zip([0, 1, 2, 3, 3.5, 4], range(6), strict=True):
        presentation = presentation_in(clinic, first_seen + climbed * WEEK)
        for step, (kind, details) in enumerate(kinds[:climbed]):
            TreatmentFactory(
                presentation=presentation,
                kind=kind,
                started_on=first_seen + (climbed + 6 * step) * WEEK,
                clinician=clinic_admin if rung == 3.5 else podiatrist,
                **details,
            )
        positions[rung] = presentation
    return positions


@pytest.mark.parametrize("rung", [0, 1, 2, 3, 3.5, 4])
def test_presentations_filter_by_current_rung(api, ladder_positions, rung):
    assert ids(api.get("/api/v1/presentations/", {"rung": rung})) == [ladder_positions[rung].pk]


def test_presentations_filter_by_mrn_patient_site_status_and_first_seen(api, clinic, today):
    early = presentation_in(clinic, today - 100 * DAY, foot="left", interspace=2)
    late = presentation_in(clinic, today - 10 * DAY, status=PresentationStatus.REFERRED)
    presentations = "/api/v1/presentations/"

    assert ids(api.get(presentations, {"mrn": early.patient.mrn})) == [early.pk]
    assert ids(api.get(presentations, {"patient": late.patient.pk})) == [late.pk]
    assert ids(api.get(presentations, {"foot": "left", "interspace": 2})) == [early.pk]
    assert ids(api.get(presentations, {"status": "referred"})) == [late.pk]
    assert ids(api.get(presentations, {"first_seen_on_after": str(today - 50 * DAY)})) == [late.pk]
    assert ids(api.get(presentations, {"first_seen_on_before": str(today - 50 * DAY)})) == [early.pk]
    window = {"first_seen_on_after": str(today - 100 * DAY), "first_seen_on_before": str(today - 10 * DAY)}
    assert set(ids(api.get(presentations, window))) == {early.pk, late.pk}


def test_presentations_filter_by_clinician_of_a_visit_or_treatment(
    api, ladder_positions, clinic_admin, podiatrist, clinic, today
):
    seen_by_admin = presentation_in(clinic, today - 30 * DAY)
    VisitFactory(presentation=seen_by_admin, clinician=clinic_admin)

    by_admin = set(ids(api.get("/api/v1/presentations/", {"clinician": clinic_admin.pk})))
    by_podiatrist = set(ids(api.get("/api/v1/presentations/", {"clinician": podiatrist.pk})))

    assert by_admin == {ladder_positions[3.5].pk, seen_by_admin.pk}
    assert by_podiatrist == {ladder_positions[rung].pk for rung in (1, 2, 3, 4)}


def test_presentations_order_by_first_seen_and_current_rung(api, ladder_positions):
    climbed = [ladder_positions[rung].pk for rung in (1, 2, 3, 3.5, 4)]

    by_rung = ids(api.get("/api/v1/presentations/", {"ordering": "current_rung"}))
    assert ids(api.get("/api/v1/presentations/", {"ordering": "current_step"})) == by_rung
    by_first_seen = ids(api.get("/api/v1/presentations/", {"ordering": "first_seen_on"}))
    newest_first = ids(api.get("/api/v1/presentations/", {"ordering": "-first_seen_on"}))

    assert [pk for pk in by_rung if pk in climbed] == climbed
    assert by_first_seen == [ladder_positions[rung].pk for rung in (0, 1, 2, 3, 3.5, 4)]
    assert newest_first == by_first_seen[::-1]


@pytest.mark.parametrize(
    "ordering", ["current_rung", "-current_rung", "current_step", "last_visit_on", "-first_seen_on"]
)
def test_every_ordering_pages_through_every_presentation_once(api, clinic, today, ladder_positions, ordering):
    # Two a page: each page's cursor is read from its last row's value of the ordering, which a case with
    # no treatment (no rung) or no visit yet (no last visit) lacks.
    unseen = presentation_in(clinic, today - 3 * DAY)
    everyone = ids(api.get("/api/v1/presentations/", {"ordering": ordering}))
    seen, url, params = [], "/api/v1/presentations/", {"ordering": ordering, "page_size": 2}
    while url:
        response = api.get(url, params)
        assert response.status_code == 200, response.content
        seen += [row["id"] for row in response.json()["results"]]
        url, params = response.json()["next"], None
    # Each once (rows that tie on the ordering may come in either order, page by page or all at once).
    assert len(seen) == len(set(seen))
    assert sorted(seen) == sorted(everyone) == sorted([unseen.pk, *(p.pk for p in ladder_positions.values())])


# Visits


def test_visit_is_recorded_by_the_caller_unless_a_clinician_is_named(api, case, podiatrist, clinic_admin):
    body = SPECS["visits"].create(case)

    own = api.post("/api/v1/visits/", body, format="json")
    named = api.post("/api/v1/visits/", {**body, "clinician": clinic_admin.pk}, format="json")

    assert own.json()["clinician"] == podiatrist.pk
    assert named.json()["clinician"] == clinic_admin.pk


def test_visits_filter_by_presentation_dates_clinician_and_mrn(api, case, clinic_admin, clinic, today):
    later = VisitFactory(presentation=case.presentation, seen_on=today - 5 * DAY, clinician=clinic_admin)
    elsewhere = VisitFactory(presentation=presentation_in(clinic, today - 50 * DAY), clinician=clinic_admin)
    visits = "/api/v1/visits/"

    assert set(ids(api.get(visits, {"presentation": case.presentation.pk}))) == {case.visit.pk, later.pk}
    assert ids(api.get(visits, {"seen_on_after": str(today - 7 * DAY)})) == [later.pk]
    assert ids(api.get(visits, {"seen_on_before": str(case.first_seen_on)})) == [case.visit.pk]
    assert set(ids(api.get(visits, {"clinician": clinic_admin.pk}))) == {later.pk, elsewhere.pk}
    assert ids(api.get(visits, {"mrn": elsewhere.presentation.patient.mrn})) == [elsewhere.pk]


def test_visits_order_by_date(api, case, today):
    later = VisitFactory(presentation=case.presentation, seen_on=today - 5 * DAY)
    assert ids(api.get("/api/v1/visits/", {"ordering": "seen_on"})) == [case.visit.pk, later.pk]
    assert ids(api.get("/api/v1/visits/", {"ordering": "-seen_on"})) == [later.pk, case.visit.pk]


# Treatments and the ladder


@pytest.fixture
def injected(clinic, podiatrist, today):
    """A presentation through footwear and orthosis, with its first corticosteroid injection 40 weeks ago."""
    first_seen = today - 52 * WEEK
    presentation = presentation_in(clinic, first_seen)
    TreatmentFactory(presentation=presentation, clinician=podiatrist)
    TreatmentFactory(
        presentation=presentation,
        kind=TreatmentKind.ORTHOSIS,
        orthosis_type="prefabricated_insole",
        started_on=first_seen + 6 * WEEK,
        clinician=podiatrist,
    )
    first_injection = TreatmentFactory(
        presentation=presentation, started_on=first_seen + 12 * WEEK, clinician=podiatrist, **INJECTION
    )
    return presentation, first_injection


def _injection_body(presentation, started_on: datetime.date, **fields) -> dict:
    return {
        "presentation": presentation.pk,
        "kind": "corticosteroid_injection",
        "injection_drug": "methylprednisolone_acetate",
        "dose_mg": "40",
        "volume_ml": "1.0",
        "started_on": str(started_on),
        **fields,
    }


def _skipped_rung(clinic, today, injected):
    fresh = presentation_in(clinic, today - 10 * WEEK)
    return _injection_body(fresh, today - 9 * WEEK)


def _neurectomy_without_failure(clinic, today, injected):
    presentation, first_injection = injected
    return {
        "presentation": presentation.pk,
        "kind": "neurectomy",
        "approach": "dorsal",
        "started_on": str(first_injection.started_on + 8 * WEEK),
    }


def _injection_too_soon(clinic, today, injected):
    presentation, first_injection = injected
    return _injection_body(presentation, first_injection.started_on + 2 * WEEK)


def _fourth_injection_in_twelve_months(clinic, today, injected):
    presentation, first_injection = injected
    for weeks in (5, 10):
        TreatmentFactory(presentation=presentation, started_on=first_injection.started_on + weeks * WEEK, **INJECTION)
    return _injection_body(presentation, first_injection.started_on + 15 * WEEK)


LADDER_BREACHES = {
    "rung_skipped": _skipped_rung,
    "neurectomy_without_conservative_failure": _neurectomy_without_failure,
    "injection_interval": _injection_too_soon,
    "injection_yearly_limit": _fourth_injection_in_twelve_months,
}


@pytest.mark.parametrize("rule", LADDER_BREACHES)
def test_treatment_breaking_a_ladder_rule_answers_409_naming_the_rule(api, clinic, today, injected, rule):
    body = LADDER_BREACHES[rule](clinic, today, injected)
    before = row_counts()

    response = api.post("/api/v1/treatments/", body, format="json")

    problem = assert_problem(response, 409)
    assert problem["rules"] == [rule]
    assert rule in problem["detail"]
    assert problem["errors"]["non_field_errors"]
    assert row_counts() == before


@pytest.mark.parametrize("rule", LADDER_BREACHES)
def test_treatment_breaking_a_ladder_rule_with_a_justification_answers_201(api, clinic, today, injected, rule):
    body = LADDER_BREACHES[rule](clinic, today, injected)
    body["justification"] = "Large neuroma on ultrasound; the patient made an informed choice."

    response = api.post("/api/v1/treatments/", body, format="json")

    assert response.status_code == 201, response.content
    assert Treatment.objects.get(pk=response.json()["id"]).justification.startswith("Large neuroma")


def test_treatment_following_the_ladder_answers_201(api, injected):
    presentation, first_injection = injected
    body = _injection_body(presentation, first_injection.started_on + 6 * WEEK)

    response = api.post("/api/v1/treatments/", body, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["rung"] == 3


def test_neurectomy_after_conservative_care_without_relief_answers_201(api, clinic, today, injected):
    _, first_injection = injected
    api.patch(
        f"/api/v1/treatments/{first_injection.pk}/",
        {"response": "none", "response_assessed_on": str(first_injection.started_on + 4 * WEEK)},
        format="json",
    )
    body = _neurectomy_without_failure(clinic, today, injected)

    response = api.post("/api/v1/treatments/", body, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["rung"] == 4


def test_moving_an_injection_within_four_weeks_of_another_answers_409_and_keeps_its_date(api, injected):
    presentation, first_injection = injected
    second = TreatmentFactory(presentation=presentation, started_on=first_injection.started_on + 6 * WEEK, **INJECTION)

    response = api.patch(
        f"/api/v1/treatments/{second.pk}/", {"started_on": str(first_injection.started_on + 3 * WEEK)}, format="json"
    )

    assert assert_problem(response, 409)["rules"] == ["injection_interval"]
    second.refresh_from_db()
    assert second.started_on == first_injection.started_on + 6 * WEEK


def test_dose_outside_the_usual_range_needs_confirmation(api, injected):
    presentation, first_injection = injected
    body = _injection_body(presentation, first_injection.started_on + 6 * WEEK, dose_mg="80")

    refused = api.post("/api/v1/treatments/", body, format="json")
    confirmed = api.post("/api/v1/treatments/", {**body, "unusual_dose_confirmed": True}, format="json")

    assert "unusual_dose_confirmed" in assert_problem(refused, 400)["errors"]
    assert confirmed.status_code == 201


def test_response_without_its_assessment_date_answers_400(api, case):
    response = api.patch(case.url("treatments"), {"response": "complete"}, format="json")
    assert "response_assessed_on" in assert_problem(response, 400)["errors"]
    case.injection.refresh_from_db()
    assert case.injection.response == Response.PENDING


def test_treatments_filter_by_kind_response_dates_clinician_and_mrn(api, case, clinic_admin, clinic, today):
    case.orthosis.response, case.orthosis.response_assessed_on = Response.PARTIAL, case.first_seen_on + 12 * WEEK
    case.orthosis.save()
    elsewhere = TreatmentFactory(presentation=presentation_in(clinic, today - 3 * WEEK), clinician=clinic_admin)
    treatments = "/api/v1/treatments/"

    assert ids(api.get(treatments, {"kind": "orthosis"})) == [case.orthosis.pk]
    both = api.get(f"{treatments}?kind=orthosis&kind=corticosteroid_injection")
    assert set(ids(both)) == {case.orthosis.pk, case.injection.pk}
    assert ids(api.get(treatments, {"response": "partial"})) == [case.orthosis.pk]
    assert set(ids(api.get(treatments, {"response": "pending"}))) == {case.footwear.pk, case.injection.pk, elsewhere.pk}
    window = {
        "started_on_after": str(case.first_seen_on + DAY),
        "started_on_before": str(case.first_seen_on + 12 * WEEK),
    }
    assert set(ids(api.get(treatments, window))) == {case.orthosis.pk, case.injection.pk}
    assert ids(api.get(treatments, {"clinician": clinic_admin.pk})) == [elsewhere.pk]
    assert ids(api.get(treatments, {"mrn": elsewhere.presentation.patient.mrn})) == [elsewhere.pk]
    assert set(ids(api.get(treatments, {"presentation": case.presentation.pk}))) == {
        case.footwear.pk,
        case.orthosis.pk,
        case.injection.pk,
    }


def test_treatments_order_by_start(api, case):
    in_order = [case.footwear.pk, case.orthosis.pk, case.injection.pk]
    assert ids(api.get("/api/v1/treatments/", {"ordering": "started_on"})) == in_order
    assert ids(api.get("/api/v1/treatments/", {"ordering": "-started_on"})) == in_order[::-1]


def test_treatment_reads_with_its_complications(api, case):
    body = api.get(case.url("treatments")).json()
    assert [complication["id"] for complication in body["complications"]] == [case.complication.pk]
    assert body["complications"][0]["kind"] == "skin_depigmentation"


# Complications


def test_complications_filter_by_treatment_kind_resolution_and_date(api, case):
    resolved = ComplicationFactory(
        treatment=case.orthosis,
        kind=ComplicationKind.OTHER,
        notes="Blister under the insole.",
        occurred_on=case.orthosis.started_on + WEEK,
        resolved=True,
        resolved_on=case.orthosis.started_on + 3 * WEEK,
    )
    complications = "/api/v1/complications/"

    assert ids(api.get(complications, {"treatment": case.injection.pk})) == [case.complication.pk]
    assert ids(api.get(complications, {"kind": "other"})) == [resolved.pk]
    assert ids(api.get(complications, {"resolved": "true"})) == [resolved.pk]
    assert ids(api.get(complications, {"resolved": "false"})) == [case.complication.pk]
    assert ids(api.get(complications, {"occurred_on_before": str(case.injection.started_on)})) == [resolved.pk]
    assert ids(api.get(complications, {"occurred_on_after": str(case.injection.started_on)})) == [case.complication.pk]
    assert ids(api.get(complications, {"ordering": "occurred_on"})) == [resolved.pk, case.complication.pk]


def test_complication_of_kind_other_needs_a_description(api, case):
    body = {**SPECS["complications"].create(case), "kind": "other"}
    assert "notes" in assert_problem(api.post("/api/v1/complications/", body, format="json"), 400)["errors"]


# Field errors: 400, the field named, nothing written


def _tomorrow(today: datetime.date) -> str:
    return str(today + DAY)


FIELD_ERRORS = [
    ("visits", lambda case, today: {"pain_walking": 11}, "pain_walking"),
    ("visits", lambda case, today: {"pain_rest": -1}, "pain_rest"),
    ("visits", lambda case, today: {"moxfq_pain": 101}, "moxfq_pain"),
    ("visits", lambda case, today: {"moxfq_walking_standing": 101}, "moxfq_walking_standing"),
    ("visits", lambda case, today: {"seen_on": _tomorrow(today)}, "seen_on"),
    ("visits", lambda case, today: {"seen_on": str(case.first_seen_on - DAY)}, "seen_on"),
    ("visits", lambda case, today: {"relief_since_previous": "Partial"}, "relief_since_previous"),
    ("presentations", lambda case, today: {"size_mm": "41"}, "size_mm"),
    ("presentations", lambda case, today: {"size_mm": "5", "imaging": "none"}, "imaging"),
    ("presentations", lambda case, today: {"interspace": 5}, "interspace"),
    ("presentations", lambda case, today: {"interspace": 0}, "interspace"),
    ("presentations", lambda case, today: {"first_seen_on": _tomorrow(today)}, "first_seen_on"),
    ("presentations", lambda case, today: {"onset_on": str(case.first_seen_on + DAY)}, "onset_on"),
    ("presentations", lambda case, today: {"symptoms": ["burning", "itching"]}, "symptoms"),
    ("presentations", lambda case, today: {"exam_signs": ["tinel_sign"]}, "exam_signs"),
    ("presentations", lambda case, today: {"symptoms": "burning"}, "symptoms"),
    ("presentations", lambda case, today: {"foot": "Left"}, "foot"),
    ("treatments", lambda case, today: {"started_on": _tomorrow(today)}, "started_on"),
    ("treatments", lambda case, today: {"ended_on": str(case.injection.started_on + 5 * WEEK)}, "ended_on"),
    ("treatments", lambda case, today: {"kind": "acupuncture"}, "kind"),
    ("treatments", lambda case, today: {"injection_drug": ""}, "injection_drug"),
    ("complications", lambda case, today: {"occurred_on": str(case.injection.started_on - DAY)}, "occurred_on"),
    (
        "complications",
        lambda case, today: {"resolved": True, "resolved_on": str(case.injection.started_on + 7 * WEEK)},
        "resolved_on",
    ),
    ("patients", lambda case, today: {"birth_date": _tomorrow(today)}, "birth_date"),
    ("patients", lambda case, today: {"sex": "F"}, "sex"),
    ("patients", lambda case, today: {"email": "not-an-address"}, "email"),
]


@pytest.mark.parametrize(
    ("resource", "overrides", "field"),
    FIELD_ERRORS,
    ids=[f"{resource}-{field}-{index}" for index, (resource, _, field) in enumerate(FIELD_ERRORS)],
)
def test_field_error_answers_400_naming_the_field_and_writes_nothing(api, case, today, resource, overrides, field):
    body = {**SPECS[resource].create(case), **overrides(case, today)}
    before = row_counts()

    response = api.post(f"/api/v1/{resource}/", body, format="json")

    problem = assert_problem(response, 400)
    assert field in problem["errors"], problem["errors"]
    assert problem["errors"][field] and all(problem["errors"][field])
    assert row_counts() == before


def test_field_error_on_patch_answers_400_and_changes_nothing(api, case):
    response = api.patch(case.url("visits"), {"pain_walking": 11}, format="json")

    assert "pain_walking" in assert_problem(response, 400)["errors"]
    case.visit.refresh_from_db()
    assert case.visit.pain_walking == 6
