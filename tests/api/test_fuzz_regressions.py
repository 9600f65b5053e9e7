"""What the schemathesis fuzzer (.ci/fuzz) found, each pinned so it stays fixed: the API answers as its schema says."""

from __future__ import annotations

import json

import pytest

from api.concurrency import etag_for
from tests.factories import PatientFactory, PresentationFactory, TreatmentFactory, VisitFactory

pytestmark = pytest.mark.django_db

LISTS = ["patients", "presentations", "visits", "treatments", "complications"]


def problem_errors(response, status: int) -> dict[str, list[str]]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    return json.loads(response.content).get("errors", {})


# A presentation with no treatment yet has no rung: the schema said `number`, the API sent null.


def test_presentation_before_any_treatment_has_null_current_rung_as_the_schema_allows(api, clinic, schema):
    presentation = PresentationFactory(patient__clinic=clinic)

    body = api.get(f"/api/v1/presentations/{presentation.pk}/").json()

    assert body["current_rung"] is None
    assert schema["components"]["schemas"]["Presentation"]["properties"]["current_rung"]["nullable"] is True


# Statuses the API answers that the schema did not list.


@pytest.mark.parametrize("resource", LISTS)
def test_list_with_a_cursor_it_did_not_issue_answers_a_documented_404(api, schema, resource):
    response = api.get(f"/api/v1/{resource}/", {"cursor": "Ö"})

    problem_errors(response, 404)
    assert "application/problem+json" in schema["paths"][f"/api/v1/{resource}/"]["get"]["responses"]["404"]["content"]


def test_outcome_report_with_reversed_dates_answers_a_documented_400(api, schema):
    response = api.get("/api/v1/reports/outcomes/", {"date_from": "2025-03-01", "date_to": "2025-01-01"})

    assert "date_to" in problem_errors(response, 400)
    assert "400" in schema["paths"]["/api/v1/reports/outcomes/"]["get"]["responses"]


# page_size out of range was silently replaced by the default or the maximum.


@pytest.mark.parametrize("page_size", ["0", "-1", "201", "abc", "2.5", " 5", "+5", "1_0", "9" * 5000])
def test_page_size_outside_1_to_200_answers_400_instead_of_another_page_size(api, page_size):
    response = api.get("/api/v1/patients/", {"page_size": page_size})

    assert problem_errors(response, 400) == {"page_size": ["Use a whole number from 1 to 200."]}


@pytest.mark.parametrize(("page_size", "rows"), [("1", 1), ("200", 3), ("", 3)])
def test_page_size_from_1_to_200_or_empty_is_honoured(api, clinic, page_size, rows):
    PatientFactory.create_batch(3, clinic=clinic)

    response = api.get("/api/v1/patients/", {"page_size": page_size})

    assert response.status_code == 200
    assert len(response.json()["results"]) == rows


def test_schema_gives_page_size_its_range(schema):
    (page_size,) = (p for p in schema["paths"]["/api/v1/patients/"]["get"]["parameters"] if p["name"] == "page_size")
    assert page_size["schema"]["minimum"] == 1
    assert page_size["schema"]["maximum"] == 200


# An empty query parameter is read as absent; the schema now says it may be sent.


def test_empty_filter_is_read_as_absent_as_the_schema_documents(api, clinic, schema):
    presentation = PresentationFactory(patient__clinic=clinic)
    VisitFactory(presentation=presentation)

    unfiltered = api.get("/api/v1/visits/").json()["results"]
    emptied = api.get("/api/v1/visits/", {"seen_on_after": "", "mrn": ""}).json()["results"]

    assert emptied == unfiltered and len(emptied) == 1
    query = [p for p in schema["paths"]["/api/v1/visits/"]["get"]["parameters"] if p["in"] == "query"]
    assert query and all(p["allowEmptyValue"] for p in query)


# Values of the wrong JSON type were coerced (0 stored as the note "0", true read as id 1).


@pytest.fixture
def records(clinic) -> dict:
    presentation = PresentationFactory(patient__clinic=clinic)
    return {
        "patients": presentation.patient,
        "presentations": presentation,
        "visits": VisitFactory(presentation=presentation),
        "treatments": TreatmentFactory(presentation=presentation),
    }


@pytest.mark.parametrize(
    ("resource", "field", "value"),
    [
        ("patients", "phone", 0),
        ("patients", "given_name", ["Ada"]),
        ("patients", "email", 12),
        ("presentations", "notes", 0),
        ("presentations", "interspace", "3"),
        ("presentations", "pain_at_rest", 1),
        ("presentations", "size_mm", True),
        ("presentations", "patient", True),
        ("presentations", "patient", "1"),
        ("visits", "pain_walking", "5"),
        ("visits", "pain_rest", True),
        ("visits", "clinician", "1"),
        ("treatments", "dose_mg", [2.5]),
        ("treatments", "ultrasound_guided", "true"),
        ("treatments", "justification", 7),
    ],
)
def test_a_value_of_the_wrong_json_type_answers_400_and_changes_nothing(api, records, resource, field, value):
    record = records[resource]

    response = api.patch(f"/api/v1/{resource}/{record.pk}/", {field: value}, format="json")

    assert field in problem_errors(response, 400)
    assert etag_for(type(record).objects.get(pk=record.pk)) == etag_for(record)


def test_whole_numbers_sent_as_json_floats_are_still_whole_numbers(api, records):
    visit = records["visits"]

    response = api.patch(f"/api/v1/visits/{visit.pk}/", {"pain_walking": 4.0}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["pain_walking"] == 4


# PUT without the record's owner was accepted, though the schema marks it required.


def test_replacing_a_presentation_without_its_patient_answers_400_and_changes_nothing(api, records):
    presentation = records["presentations"]
    replacement = api.get(f"/api/v1/presentations/{presentation.pk}/").json()
    del replacement["patient"]

    response = api.put(f"/api/v1/presentations/{presentation.pk}/", replacement, format="json")

    assert "patient" in problem_errors(response, 400)
    assert etag_for(type(presentation).objects.get(pk=presentation.pk)) == etag_for(presentation)


def test_replacing_a_presentation_with_its_own_patient_succeeds(api, records):
    presentation = records["presentations"]
    replacement = {**api.get(f"/api/v1/presentations/{presentation.pk}/").json(), "notes": "Replaced."}

    response = api.put(f"/api/v1/presentations/{presentation.pk}/", replacement, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["notes"] == "Replaced."


@pytest.mark.parametrize("value", [{}, {"burning": True}, "burning"])
def test_a_code_set_that_is_not_a_json_array_answers_400_and_changes_nothing(api, records, value):
    presentation = records["presentations"]

    response = api.patch(f"/api/v1/presentations/{presentation.pk}/", {"symptoms": value}, format="json")

    assert "symptoms" in problem_errors(response, 400)
    assert etag_for(type(presentation).objects.get(pk=presentation.pk)) == etag_for(presentation)


def test_an_unknown_format_query_parameter_is_400_naming_it_not_404(api):
    response = api.get("/api/v1/presentations/export/", {"format": "-58800"})

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"] == {"format": ["Unknown format; choose one of csv, json."]}


def test_the_export_documents_the_list_filters_it_applies(anonymous):
    schema = anonymous.get("/api/schema/?format=json").json()
    names = {p["name"] for p in schema["paths"]["/api/v1/presentations/export/"]["get"]["parameters"]}
    assert {"format", "mrn", "status", "rung", "first_seen_on_after"} <= names
