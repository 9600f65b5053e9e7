"""Clinic scoping and roles: another clinic's records do not exist for the caller; read-only callers change nothing."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest
from django.db import models

from api.models import TokenScope
from cases.choices import ComplicationKind, Role, TreatmentKind
from cases.models import Complication, Patient, Presentation, Treatment, Visit
from tests.factories import (
    ComplicationFactory,
    MembershipFactory,
    PresentationFactory,
    TreatmentFactory,
    UserFactory,
    VisitFactory,
)

from .test_errors import assert_problem

RESOURCES = ["patients", "presentations", "visits", "treatments", "complications"]
RECORD_MODELS = (Patient, Presentation, Visit, Treatment, Complication)

# One change per resource that a writer of the record's clinic may make (see the control test below).
CHANGES = {
    "patients": {"given_name": "Changed"},
    "presentations": {"notes": "Changed by a PATCH."},
    "visits": {"notes": "Changed by a PATCH."},
    "treatments": {"ended_on": "2026-02-16"},
    "complications": {"notes": "Changed by a PATCH."},
}


@dataclass
class CaseRecords:
    """One clinic's case, a record of every resource: patient → presentation → visit, treatment → complication."""

    patient: Patient
    presentation: Presentation
    visit: Visit
    treatment: Treatment
    complication: Complication

    def of(self, resource: str) -> models.Model:
        return {
            "patients": self.patient,
            "presentations": self.presentation,
            "visits": self.visit,
            "treatments": self.treatment,
            "complications": self.complication,
        }[resource]

    def url(self, resource: str) -> str:
        return f"/api/v1/{resource}/{self.of(resource).pk}/"


def case_records(clinic, clinician, *, mrn: str) -> CaseRecords:
    presentation = PresentationFactory(patient__clinic=clinic, patient__mrn=mrn, patient__family_name=f"Family-{mrn}")
    treatment = TreatmentFactory(
        presentation=presentation, kind=TreatmentKind.FOOTWEAR_MODIFICATION, clinician=clinician
    )
    return CaseRecords(
        patient=presentation.patient,
        presentation=presentation,
        visit=VisitFactory(presentation=presentation, clinician=clinician),
        treatment=treatment,
        complication=ComplicationFactory(
            treatment=treatment, kind=ComplicationKind.OTHER, notes="Blister from the new shoes."
        ),
    )


def create_body(resource: str, records: CaseRecords) -> dict:
    """A valid body for creating a record of ``resource`` under ``records``' case."""
    first_seen = records.presentation.first_seen_on
    return {
        "patients": {
            "mrn": "NEW-0001",
            "given_name": "Grace",
            "family_name": "Newcomer",
            "birth_date": "1971-09-02",
            "sex": "female",
        },
        "presentations": {
            "patient": records.patient.pk,
            "foot": "left",
            "interspace": 2,
            "first_seen_on": str(first_seen),
        },
        "visits": {
            "presentation": records.presentation.pk,
            "seen_on": str(first_seen + datetime.timedelta(days=7)),
            "pain_walking": 5,
            "pain_rest": 0,
        },
        "treatments": {
            "presentation": records.presentation.pk,
            "kind": "orthosis",
            "orthosis_type": "metatarsal_pad",
            "started_on": str(first_seen + datetime.timedelta(days=42)),
        },
        "complications": {
            "treatment": records.treatment.pk,
            "kind": "other",
            "occurred_on": str(records.treatment.started_on + datetime.timedelta(days=3)),
            "notes": "Second blister.",
        },
    }[resource]


def snapshot() -> dict:
    """Every clinical row with its last change, to prove a refused request wrote nothing."""
    return {model.__name__: sorted(model.objects.values_list("pk", "updated_at")) for model in RECORD_MODELS}


def put_body(superuser_client, records: CaseRecords, resource: str) -> dict:
    """The record as read, with the resource's change applied: a full replacement a writer could send."""
    representation = superuser_client.get(records.url(resource)).json()
    return {**representation, **CHANGES[resource]}


@pytest.fixture
def ours(clinic, podiatrist) -> CaseRecords:
    return case_records(clinic, podiatrist, mrn="NS-0001")


@pytest.fixture
def theirs(other_clinic, other_podiatrist) -> CaseRecords:
    return case_records(other_clinic, other_podiatrist, mrn="SS-0001")


@pytest.fixture
def root(bearer, superuser):
    return bearer(superuser)


@pytest.fixture(params=["reviewer_role", "read_only_token"])
def read_only(request, bearer, clinic):
    """A caller who may read ``clinic`` but not write: a reviewer, or a podiatrist holding a read-only token."""
    if request.param == "reviewer_role":
        reviewer = request.getfixturevalue("reviewer")
        return bearer(reviewer), "Your role is read-only."
    podiatrist = request.getfixturevalue("podiatrist")
    return bearer(podiatrist, scope=TokenScope.READ), "This token is read-only."


@pytest.fixture
def split_roles(bearer, clinic, other_clinic):
    """A podiatrist in ``clinic`` who is only a reviewer in ``other_clinic``."""
    user = UserFactory(username="split-roles")
    MembershipFactory(user=user, clinic=clinic, role=Role.PODIATRIST)
    MembershipFactory(user=user, clinic=other_clinic, role=Role.REVIEWER)
    return bearer(user)


# Control: the bodies used below are accepted from a writer of the record's own clinic.


@pytest.mark.parametrize("resource", RESOURCES)
def test_writer_of_the_records_clinic_may_patch_and_put_it(api, root, ours, resource):
    assert api.patch(ours.url(resource), CHANGES[resource], format="json").status_code == 200
    response = api.put(ours.url(resource), put_body(root, ours, resource), format="json")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("resource", RESOURCES)
def test_writer_of_the_records_clinic_may_create_it(api, ours, resource):
    response = api.post(f"/api/v1/{resource}/", create_body(resource, ours), format="json")
    assert response.status_code == 201, response.content


# Another clinic's records do not exist


@pytest.mark.parametrize("resource", RESOURCES)
def test_another_clinics_record_is_not_found_on_retrieve(api, theirs, resource):
    response = api.get(theirs.url(resource))

    assert_problem(response, 404)
    assert theirs.patient.mrn.encode() not in response.content
    assert theirs.patient.family_name.encode() not in response.content


@pytest.mark.parametrize("resource", RESOURCES)
def test_another_clinics_record_is_not_found_on_patch_and_is_unchanged(api, theirs, resource):
    before = snapshot()

    response = api.patch(theirs.url(resource), CHANGES[resource], format="json")

    assert_problem(response, 404)
    assert theirs.patient.mrn.encode() not in response.content
    assert snapshot() == before


@pytest.mark.parametrize("resource", RESOURCES)
def test_another_clinics_record_is_not_found_on_put_and_is_unchanged(api, root, theirs, resource):
    body = put_body(root, theirs, resource)
    before = snapshot()

    response = api.put(theirs.url(resource), body, format="json")

    assert_problem(response, 404)
    assert theirs.patient.mrn.encode() not in response.content
    assert snapshot() == before


def test_another_clinics_patient_is_not_found_on_archive_and_stays_active(api, theirs):
    response = api.post(f"{theirs.url('patients')}archive/")

    assert_problem(response, 404)
    theirs.patient.refresh_from_db()
    assert theirs.patient.archived is False


@pytest.mark.parametrize("action", ["timeline", "next-step"])
def test_another_clinics_presentation_actions_are_not_found(api, theirs, action):
    response = api.get(f"{theirs.url('presentations')}{action}/")

    assert_problem(response, 404)
    assert theirs.patient.mrn.encode() not in response.content
    assert b"pain" not in response.content.lower()


@pytest.mark.parametrize("resource", RESOURCES)
def test_another_clinics_records_are_absent_from_lists(api, ours, theirs, resource):
    response = api.get(f"/api/v1/{resource}/")

    assert response.status_code == 200
    ids = {row["id"] for row in response.json()["results"]}
    assert ids == {ours.of(resource).pk}
    assert theirs.patient.mrn.encode() not in response.content


@pytest.mark.parametrize(
    ("resource", "query"),
    [
        ("patients", "mrn=SS-0001"),
        ("presentations", "mrn=SS-0001"),
        ("visits", "mrn=SS-0001"),
        ("treatments", "mrn=SS-0001"),
        ("presentations", "patient={patient}"),
        ("visits", "presentation={presentation}"),
        ("treatments", "presentation={presentation}"),
        ("complications", "treatment={treatment}"),
    ],
)
def test_filtering_on_another_clinics_identifiers_finds_nothing(api, ours, theirs, resource, query):
    query = query.format(patient=theirs.patient.pk, presentation=theirs.presentation.pk, treatment=theirs.treatment.pk)

    response = api.get(f"/api/v1/{resource}/?{query}")

    assert response.status_code == 200
    assert response.json()["results"] == []


# Creating under another clinic's records


PARENT_FIELDS = [
    ("presentations", "patient"),
    ("visits", "presentation"),
    ("treatments", "presentation"),
    ("complications", "treatment"),
]


# With an Idempotency-Key the body's presentation is found and locked in one query (the create's one
# transaction); without one it is found, then locked by the service: the scope is the same either way.
KEYED = pytest.mark.parametrize("headers", [{}, {"HTTP_IDEMPOTENCY_KEY": "scoping-1"}], ids=["plain", "keyed"])


@KEYED
@pytest.mark.parametrize(("resource", "parent_field"), PARENT_FIELDS)
def test_creating_under_another_clinics_record_answers_400_does_not_exist(
    api, ours, theirs, resource, parent_field, headers
):
    body = create_body(resource, theirs)
    missing = {**body, parent_field: body[parent_field] + 10_000}
    before = snapshot()

    response = api.post(f"/api/v1/{resource}/", body, format="json", **headers)
    absent_headers = {"HTTP_IDEMPOTENCY_KEY": "scoping-2"} if headers else {}
    absent = api.post(f"/api/v1/{resource}/", missing, format="json", **absent_headers)

    problem = assert_problem(response, 400)
    assert "does not exist" in " ".join(problem["errors"][parent_field])
    # Word for word what an id that exists nowhere gets, but for the id itself.
    assert assert_problem(absent, 400)["errors"][parent_field] == [
        message.replace(str(body[parent_field]), str(missing[parent_field]))
        for message in problem["errors"][parent_field]
    ]
    assert snapshot() == before


def test_patient_cannot_be_registered_in_another_clinic(api, ours, other_clinic):
    before = snapshot()

    response = api.post(
        "/api/v1/patients/", {**create_body("patients", ours), "clinic": other_clinic.pk}, format="json"
    )

    problem = assert_problem(response, 400)
    assert "clinic" in problem["errors"]
    assert snapshot() == before


@pytest.mark.parametrize("resource", ["visits", "treatments"])
def test_clinician_of_another_clinic_cannot_be_named(api, ours, other_podiatrist, resource):
    before = snapshot()

    response = api.post(
        f"/api/v1/{resource}/", {**create_body(resource, ours), "clinician": other_podiatrist.pk}, format="json"
    )

    problem = assert_problem(response, 400)
    assert "does not exist" in " ".join(problem["errors"]["clinician"])
    assert snapshot() == before


# Callers who see more than one clinic


@pytest.mark.parametrize("resource", RESOURCES)
def test_user_in_two_clinics_sees_both(bearer, podiatrist, other_clinic, ours, theirs, resource):
    MembershipFactory(user=podiatrist, clinic=other_clinic, role=Role.REVIEWER)
    client = bearer(podiatrist)

    listed = {row["id"] for row in client.get(f"/api/v1/{resource}/").json()["results"]}

    assert listed == {ours.of(resource).pk, theirs.of(resource).pk}
    assert client.get(theirs.url(resource)).status_code == 200


@pytest.mark.parametrize("resource", RESOURCES)
def test_superuser_sees_every_clinic(root, ours, theirs, resource):
    listed = {row["id"] for row in root.get(f"/api/v1/{resource}/").json()["results"]}

    assert listed == {ours.of(resource).pk, theirs.of(resource).pk}
    assert root.get(theirs.url(resource)).status_code == 200


# Read-only callers: a reviewer, or a read-only token


@pytest.mark.parametrize("resource", RESOURCES)
def test_read_only_caller_cannot_create(read_only, ours, resource):
    client, reason = read_only
    before = snapshot()

    response = client.post(f"/api/v1/{resource}/", create_body(resource, ours), format="json")

    assert assert_problem(response, 403)["detail"] == reason
    assert snapshot() == before


@pytest.mark.parametrize("resource", RESOURCES)
def test_read_only_caller_cannot_patch(read_only, ours, resource):
    client, reason = read_only
    before = snapshot()

    response = client.patch(ours.url(resource), CHANGES[resource], format="json")

    assert assert_problem(response, 403)["detail"] == reason
    assert snapshot() == before


@pytest.mark.parametrize("resource", RESOURCES)
def test_read_only_caller_cannot_put(read_only, root, ours, resource):
    client, reason = read_only
    body = put_body(root, ours, resource)
    before = snapshot()

    response = client.put(ours.url(resource), body, format="json")

    assert assert_problem(response, 403)["detail"] == reason
    assert snapshot() == before


def test_read_only_caller_cannot_archive(read_only, ours):
    client, reason = read_only

    response = client.post(f"{ours.url('patients')}archive/")

    assert assert_problem(response, 403)["detail"] == reason
    ours.patient.refresh_from_db()
    assert ours.patient.archived is False


@pytest.mark.parametrize("resource", RESOURCES)
def test_read_only_caller_reads_lists_and_records(read_only, ours, resource):
    client, _ = read_only

    listed = client.get(f"/api/v1/{resource}/")
    record = client.get(ours.url(resource))

    assert [row["id"] for row in listed.json()["results"]] == [ours.of(resource).pk]
    assert record.status_code == 200
    assert record.json()["id"] == ours.of(resource).pk


@pytest.mark.parametrize("action", ["timeline", "next-step"])
def test_read_only_caller_reads_presentation_actions(read_only, ours, action):
    client, _ = read_only
    assert client.get(f"{ours.url('presentations')}{action}/").status_code == 200


# Different roles in different clinics


def test_podiatrist_in_one_clinic_and_reviewer_in_another_writes_only_in_the_first(split_roles, ours, theirs):
    response = split_roles.post("/api/v1/presentations/", create_body("presentations", ours), format="json")
    assert response.status_code == 201, response.content
    assert split_roles.patch(ours.url("patients"), CHANGES["patients"], format="json").status_code == 200


@pytest.mark.parametrize("resource", RESOURCES)
def test_reviewer_role_in_a_clinic_refuses_writes_to_its_records(split_roles, root, theirs, resource):
    body = put_body(root, theirs, resource)
    before = snapshot()

    patched = split_roles.patch(theirs.url(resource), CHANGES[resource], format="json")
    replaced = split_roles.put(theirs.url(resource), body, format="json")

    for response in (patched, replaced):
        assert assert_problem(response, 403)["detail"] == "Your role in this record's clinic is read-only."
    assert snapshot() == before


def test_reviewer_role_in_a_clinic_refuses_archiving_its_patient(split_roles, theirs):
    response = split_roles.post(f"{theirs.url('patients')}archive/")

    assert_problem(response, 403)
    theirs.patient.refresh_from_db()
    assert theirs.patient.archived is False


@KEYED
@pytest.mark.parametrize(("resource", "parent_field"), PARENT_FIELDS)
def test_reviewer_role_in_a_clinic_refuses_creating_under_its_records(
    split_roles, theirs, resource, parent_field, headers
):
    before = snapshot()

    response = split_roles.post(f"/api/v1/{resource}/", create_body(resource, theirs), format="json", **headers)

    problem = assert_problem(response, 400)
    assert "does not exist" in " ".join(problem["errors"][parent_field])
    assert snapshot() == before


def test_reviewer_role_in_a_clinic_refuses_registering_patients_there(split_roles, ours, other_clinic):
    before = snapshot()

    response = split_roles.post(
        "/api/v1/patients/", {**create_body("patients", ours), "clinic": other_clinic.pk}, format="json"
    )

    assert "clinic" in assert_problem(response, 400)["errors"]
    assert snapshot() == before


@pytest.mark.parametrize("resource", RESOURCES)
def test_reviewer_role_in_a_clinic_still_reads_its_records(split_roles, theirs, resource):
    response = split_roles.get(theirs.url(resource))
    assert response.status_code == 200
    assert response.json()["id"] == theirs.of(resource).pk
