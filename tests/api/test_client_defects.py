"""Defects an outside API client met, each replayed over HTTP as an integration partner would send it."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from api.concurrency import etag_for
from cases.audit import AuditAction, AuditEvent
from cases.choices import TreatmentKind
from cases.models import Patient, Presentation, Visit
from tests.factories import (
    ComplicationFactory,
    PatientFactory,
    PresentationFactory,
    TreatmentFactory,
    UserFactory,
    VisitFactory,
)

from .test_errors import assert_problem

pytestmark = pytest.mark.django_db

WEEK = datetime.timedelta(weeks=1)


@pytest.fixture
def presentation(clinic, podiatrist):
    presentation = PresentationFactory(
        patient=PatientFactory(clinic=clinic), first_seen_on=clinic.today() - 10 * WEEK, onset_on=None
    )
    TreatmentFactory(presentation=presentation, clinician=podiatrist, started_on=presentation.first_seen_on)
    return presentation


@pytest.fixture
def visit(presentation, podiatrist):
    return VisitFactory(presentation=presentation, clinician=podiatrist, pain_walking=6, notes="")


def a_visit(presentation, **fields) -> dict:
    return {
        "presentation": presentation.pk,
        "seen_on": str(presentation.first_seen_on + 6 * WEEK),
        "pain_walking": 4,
        "pain_rest": 0,
        **fields,
    }


def writes_of(record) -> tuple[int, int]:
    """(history rows, update audit events) recorded for ``record`` so far."""
    events = AuditEvent.objects.filter(action=AuditAction.UPDATE, object_id=str(record.pk))
    return record.history.count(), events.count()


# Unknown or misspelt fields were accepted and dropped.


def test_a_misspelt_field_on_create_answers_400_naming_it_and_stores_nothing(api, presentation):
    response = api.post("/api/v1/visits/", a_visit(presentation, moxfq_pian=40), format="json")

    errors = assert_problem(response, 400)["errors"]
    assert list(errors) == ["moxfq_pian"]
    assert "did you mean 'moxfq_pain'" in errors["moxfq_pian"][0]
    assert not Visit.objects.filter(presentation=presentation, seen_on=presentation.first_seen_on + 6 * WEEK).exists()


def test_a_misspelt_field_on_change_answers_400_and_writes_no_version_audit_or_history(api, visit):
    before = writes_of(visit)

    response = api.patch(f"/api/v1/visits/{visit.pk}/", {"pain_walkin": 3}, format="json")

    assert "pain_walkin" in assert_problem(response, 400)["errors"]
    visit.refresh_from_db()
    assert (visit.pain_walking, writes_of(visit)) == (6, before)


def test_every_writable_resource_refuses_a_property_that_names_no_field(api, clinic, presentation, visit):
    treatment = presentation.treatments.get()
    complication = ComplicationFactory(treatment=treatment, kind="other", notes="blister")
    records = {
        "patients": presentation.patient,
        "presentations": presentation,
        "visits": visit,
        "treatments": treatment,
        "complications": complication,
    }
    for resource, record in records.items():
        response = api.patch(f"/api/v1/{resource}/{record.pk}/", {"colour": "blue"}, format="json")
        assert "colour" in assert_problem(response, 400)["errors"], resource


def test_read_only_properties_echoed_back_from_a_read_are_ignored(api, visit):
    echoed = api.get(f"/api/v1/visits/{visit.pk}/").json()

    response = api.patch(f"/api/v1/visits/{visit.pk}/", {**echoed, "id": 999999, "pain_walking": 3}, format="json")

    assert response.status_code == 200, response.content
    assert (response.json()["id"], response.json()["pain_walking"]) == (visit.pk, 3)


def test_a_change_that_changes_nothing_keeps_the_etag_and_writes_no_history_or_update_event(api, visit):
    before = writes_of(visit)
    etag = api.get(f"/api/v1/visits/{visit.pk}/")["ETag"]

    same = api.patch(f"/api/v1/visits/{visit.pk}/", {"pain_walking": 6, "notes": ""}, format="json", HTTP_IF_MATCH=etag)

    assert same.status_code == 200, same.content
    assert same["ETag"] == etag
    assert writes_of(visit) == before
    changed = api.patch(f"/api/v1/visits/{visit.pk}/", {"pain_walking": 5}, format="json", HTTP_IF_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert writes_of(visit) == (before[0] + 1, before[1] + 1)


def test_a_set_of_codes_sent_in_another_order_is_no_change(api, presentation):
    etag = etag_for(presentation)
    codes = list(reversed(sorted(presentation.symptoms)))

    response = api.patch(f"/api/v1/presentations/{presentation.pk}/", {"symptoms": codes}, format="json")

    assert response.status_code == 200, response.content
    assert response["ETag"] == etag


def test_the_schema_refuses_additional_properties_in_request_bodies_only(anonymous):
    components = anonymous.get("/api/schema/?format=json").json()["components"]["schemas"]

    for name in ("PatientRequest", "PatchedVisitRequest", "TreatmentRequest", "PresentationRequest"):
        assert components[name]["additionalProperties"] is False, name
        assert "Read-only properties" in components[name]["description"], name
    assert "additionalProperties" not in components["Visit"]


# Another clinic's ids answered differently from ids that do not exist.


def test_another_clinics_clinic_answers_exactly_like_a_clinic_that_does_not_exist(api, other_clinic):
    patient = {"mrn": "X-1", "given_name": "Ada", "family_name": "Lovelace", "birth_date": "1970-01-01"}
    missing_id = other_clinic.pk + 1000

    theirs = api.post("/api/v1/patients/", {**patient, "clinic": other_clinic.pk}, format="json")
    missing = api.post("/api/v1/patients/", {**patient, "clinic": missing_id}, format="json")

    assert_same_answer(theirs, missing, other_clinic.pk, missing_id)
    assert not Patient.objects.filter(mrn="X-1").exists()


@pytest.mark.parametrize("parent", ["patient", "presentation", "treatment"])
def test_another_clinics_record_as_a_parent_answers_exactly_like_one_that_does_not_exist(
    api, other_clinic, other_podiatrist, parent
):
    theirs = PresentationFactory(patient=PatientFactory(clinic=other_clinic))
    treatment = TreatmentFactory(presentation=theirs, clinician=other_podiatrist)
    resource, body = {
        "patient": ("presentations", {"foot": "left", "interspace": 2, "first_seen_on": "2026-01-05"}),
        "presentation": ("visits", {"seen_on": "2026-01-05", "pain_walking": 3, "pain_rest": 0}),
        "treatment": ("complications", {"kind": "other", "notes": "x", "occurred_on": "2026-01-05"}),
    }[parent]
    their_id = {"patient": theirs.patient_id, "presentation": theirs.pk, "treatment": treatment.pk}[parent]
    missing_id = their_id + 1000

    answers = [api.post(f"/api/v1/{resource}/", {**body, parent: key}, format="json") for key in (their_id, missing_id)]

    assert_same_answer(*answers, their_id, missing_id)


def assert_same_answer(theirs, missing, their_id: int, missing_id: int) -> None:
    """The same status, media type and body, but for the id each message quotes back."""

    def body(response, key: int) -> dict:
        document = assert_problem(response, 400)
        document["errors"] = {
            field: [message.replace(f'"{key}"', '"ID"') for message in messages]
            for field, messages in document["errors"].items()
        }
        return document

    assert theirs["Content-Type"] == missing["Content-Type"]
    assert body(theirs, their_id) == body(missing, missing_id)


# A decimal sent as a JSON number was refused.


def test_decimals_are_accepted_as_json_numbers_and_as_strings(api, clinic, presentation):
    as_number = api.patch(
        f"/api/v1/presentations/{presentation.pk}/", {"imaging": "ultrasound", "size_mm": 5.2}, format="json"
    )
    assert as_number.status_code == 200, as_number.content
    assert as_number.json()["size_mm"] == "5.2"
    presentation.refresh_from_db()
    assert presentation.size_mm == Decimal("5.2")

    as_string = api.patch(f"/api/v1/presentations/{presentation.pk}/", {"size_mm": "6.1"}, format="json")
    assert as_string.status_code == 200 and as_string.json()["size_mm"] == "6.1"


def test_an_injection_dose_as_a_json_number_is_stored_exactly(api, presentation):
    injection = {
        "presentation": presentation.pk,
        "kind": TreatmentKind.CORTICOSTEROID_INJECTION,
        "injection_drug": "methylprednisolone_acetate",
        "dose_mg": 40,
        "volume_ml": 1.5,
        "started_on": str(presentation.first_seen_on + 4 * WEEK),
        "justification": "Severe pain at first visit.",
    }

    response = api.post("/api/v1/treatments/", injection, format="json")

    assert response.status_code == 201, response.content
    assert (response.json()["dose_mg"], response.json()["volume_ml"]) == ("40.0", "1.5")


# FHIR clients' media types answered 406.


@pytest.mark.parametrize(
    ("accept", "query"),
    [
        ("application/fhir+json", ""),
        ("application/json+fhir", ""),
        ("application/fhir+json; fhirVersion=4.0", ""),
        ("application/json", ""),
        ("*/*", ""),
        ("application/fhir+xml", "?_format=json"),
        ("", "?_format=application/fhir+json"),
        ("", "?_format=application/json+fhir"),
        ("", "?_format=application/fhir%2Bjson"),
    ],
)
def test_fhir_export_negotiates_fhirs_media_types_and_answers_fhir_json(api, presentation, accept, query):
    response = api.get(f"/api/v1/patients/{presentation.patient_id}/fhir/{query}", HTTP_ACCEPT=accept)

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/fhir+json"
    assert response.json()["resourceType"] == "Bundle"


@pytest.mark.parametrize(("accept", "query"), [("application/fhir+xml", ""), ("", "?_format=xml")])
def test_fhir_export_in_a_format_it_does_not_serve_answers_406(api, presentation, accept, query):
    response = api.get(f"/api/v1/patients/{presentation.patient_id}/fhir/{query}", HTTP_ACCEPT=accept)

    assert_problem(response, 406)


def test_the_schema_documents_fhirs_format_parameter_and_406(anonymous):
    operation = anonymous.get("/api/schema/?format=json").json()["paths"]["/api/v1/patients/{id}/fhir/"]["get"]

    assert "_format" in {parameter["name"] for parameter in operation["parameters"]}
    assert "application/problem+json" in operation["responses"]["406"]["content"]


# The rung a client reads and filters by.


@pytest.mark.parametrize("value", ["2.5", "5", "ten", "-1"])
def test_a_rung_that_is_not_on_the_ladder_answers_400_naming_rung(api, value):
    errors = assert_problem(api.get("/api/v1/presentations/", {"rung": value}), 400)["errors"]

    assert "3.5 (alternative)" in " ".join(errors["rung"])


def test_rung_filter_reads_public_rungs(api, presentation):
    assert [row["id"] for row in api.get("/api/v1/presentations/", {"rung": "1"}).json()["results"]] == [
        presentation.pk
    ]
    assert api.get("/api/v1/presentations/", {"rung": "2"}).json()["results"] == []
    assert Presentation.objects.count() == 1


# If-Match with a weak tag (an intermediary that compresses weakens the tag a client sends back).


def test_if_match_accepts_the_current_version_as_a_weak_tag_and_refuses_a_stale_one(api, visit):
    url = f"/api/v1/visits/{visit.pk}/"
    weak = "W/" + api.get(url)["ETag"]

    assert api.patch(url, {"pain_walking": 5}, format="json", HTTP_IF_MATCH=f'"other", {weak}').status_code == 200
    assert_problem(api.patch(url, {"pain_walking": 4}, format="json", HTTP_IF_MATCH=weak), 412)


def test_the_schema_takes_a_decimal_as_a_string_or_a_number_and_writes_it_as_a_string(anonymous):
    components = anonymous.get("/api/schema/?format=json").json()["components"]["schemas"]

    sent = components["PresentationRequest"]["properties"]["size_mm"]
    assert [choice["type"] for choice in sent["oneOf"]] == ["string", "number"]
    assert components["Presentation"]["properties"]["size_mm"]["type"] == "string"


# Who may be a treating clinician: the API offered any active user to a superuser, even one in no clinic.


@pytest.mark.parametrize("who", ["reviewer", "outsider"])
def test_a_visit_naming_a_reviewer_or_an_outsider_as_clinician_is_refused_on_that_field(
    bearer, superuser, reviewer, presentation, who
):
    clinician = reviewer if who == "reviewer" else UserFactory(username="no-clinic")

    response = bearer(superuser).post("/api/v1/visits/", a_visit(presentation, clinician=clinician.pk), format="json")

    assert list(assert_problem(response, 400)["errors"]) == ["clinician"]
    assert not Visit.objects.filter(presentation=presentation).exists()


def test_a_superuser_records_a_visit_in_the_name_of_the_clinics_podiatrist(bearer, superuser, podiatrist, presentation):
    response = bearer(superuser).post("/api/v1/visits/", a_visit(presentation, clinician=podiatrist.pk), format="json")

    assert response.status_code == 201, response.content
    assert Visit.objects.get(pk=response.json()["id"]).clinician == podiatrist
