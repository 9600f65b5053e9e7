"""Every error the API answers is an RFC 9457 problem: the right status, the problem media type, the four keys."""

from __future__ import annotations

import json

import pytest
from django.db import OperationalError

from api import views
from cases.models import Patient
from tests.factories import ComplicationFactory, PatientFactory, PresentationFactory, TreatmentFactory, VisitFactory

PROBLEM_KEYS = {"type", "title", "status", "detail"}


def assert_problem(response, status: int) -> dict:
    """Check that ``response`` is problem details for ``status`` and return its body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = json.loads(response.content)
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def allowed_methods(response) -> set[str]:
    return {method.strip() for method in response["Allow"].split(",")}


def patient_body(**overrides) -> dict:
    return {
        "mrn": "NS-1001",
        "given_name": "Ada",
        "family_name": "Example",
        "birth_date": "1968-03-14",
        "sex": "female",
        **overrides,
    }


# Routing


@pytest.mark.parametrize("path", ["/api/v1/podiatrists/", "/api/nowhere", "/api/v1/patients/1/notes/"])
def test_unknown_url_under_api_answers_404_problem(api, path):
    body = assert_problem(api.get(path), 404)
    assert body["detail"] == "No such resource."


def test_unknown_url_outside_api_keeps_the_html_not_found_page(client, db):
    response = client.get("/nowhere/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("pk", ["999999", "not-a-number"])
def test_unknown_record_id_answers_404_problem(api, pk):
    assert_problem(api.get(f"/api/v1/patients/{pk}/"), 404)


@pytest.mark.parametrize("path", ["/api/v1/patients/", "/api/v1/presentations/"])
def test_delete_on_a_collection_answers_405_problem_with_allow_header(api, path):
    response = api.delete(path)
    body = assert_problem(response, 405)
    assert "DELETE" in body["detail"]
    allowed = allowed_methods(response)
    assert "DELETE" not in allowed
    assert {"GET", "POST"} <= allowed


@pytest.mark.parametrize("resource", ["patients", "presentations", "visits", "treatments", "complications"])
def test_delete_on_a_record_answers_405_problem_and_keeps_the_record(api, clinic, resource):
    presentation = PresentationFactory(patient__clinic=clinic)
    records = {
        "patients": presentation.patient,
        "presentations": presentation,
        "visits": VisitFactory(presentation=presentation),
        "treatments": TreatmentFactory(presentation=presentation),
    }
    records["complications"] = ComplicationFactory(treatment=records["treatments"])
    record = records[resource]

    response = api.delete(f"/api/v1/{resource}/{record.pk}/")

    assert_problem(response, 405)
    allowed = allowed_methods(response)
    assert "DELETE" not in allowed
    assert {"GET", "PUT", "PATCH"} <= allowed
    assert type(record).objects.filter(pk=record.pk).exists()


# Request bodies


@pytest.mark.parametrize(
    ("content_type", "payload"),
    [
        ("text/plain", "mrn=NS-1001"),
        ("application/x-www-form-urlencoded", "mrn=NS-1001&given_name=Ada"),
        ("application/xml", "<patient><mrn>NS-1001</mrn></patient>"),
    ],
)
def test_a_body_that_is_not_json_answers_415_problem_and_writes_nothing(api, content_type, payload):
    body = assert_problem(api.generic("POST", "/api/v1/patients/", payload, content_type=content_type), 415)
    assert content_type in body["detail"]
    assert not Patient.objects.exists()


@pytest.mark.parametrize("payload", ['{"mrn": "NS-1001",', "{'mrn': 'NS-1001'}", "NaN", b"\xff\xfe{}"])
def test_malformed_json_answers_400_problem_and_writes_nothing(api, payload):
    response = api.generic("POST", "/api/v1/patients/", payload, content_type="application/json")
    body = assert_problem(response, 400)
    assert "JSON" in body["detail"]
    assert not Patient.objects.exists()


@pytest.mark.parametrize("payload", [[patient_body()], "a patient", None])
def test_json_that_is_not_an_object_answers_400_problem(api, payload):
    response = api.generic("POST", "/api/v1/patients/", json.dumps(payload), content_type="application/json")
    body = assert_problem(response, 400)
    assert body["errors"]["non_field_errors"]
    assert not Patient.objects.exists()


def test_deeply_nested_json_answers_400_problem_and_writes_nothing(api):
    # Small enough to pass the size limit, deep enough to exhaust the interpreter's recursion limit.
    nested = "[" * 5000 + "]" * 5000

    body = assert_problem(api.generic("POST", "/api/v1/patients/", nested, content_type="application/json"), 400)

    assert "nested" in body["detail"]
    assert not Patient.objects.exists()


def test_deeply_nested_field_value_answers_400_problem(api, clinic):
    patient = PatientFactory(clinic=clinic)
    nested = "[" * 990 + "]" * 990
    payload = (
        f'{{"patient": {patient.pk}, "foot": "left", "interspace": 2, "first_seen_on": "2026-01-05", '
        f'"symptoms": {nested}}}'
    )

    response = api.generic("POST", "/api/v1/presentations/", payload, content_type="application/json")

    assert "nested" in assert_problem(response, 400)["detail"]
    assert not patient.presentations.exists()


def test_body_over_the_size_limit_answers_413_problem_and_writes_nothing(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 512
    oversized = patient_body(given_name="A" * 600)

    body = assert_problem(api.post("/api/v1/patients/", oversized, format="json"), 413)

    assert "larger" in body["detail"]
    assert not Patient.objects.exists()


def test_body_within_the_size_limit_is_accepted(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 512
    response = api.post("/api/v1/patients/", patient_body(), format="json")
    assert response.status_code == 201, response.content


# Query strings


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/visits/?seen_on_after=notadate", "seen_on"),
        ("/api/v1/presentations/?first_seen_on_before=2026-13-01", "first_seen_on"),
        ("/api/v1/presentations/?rung=three", "rung"),
        ("/api/v1/presentations/?status=open", "status"),
        ("/api/v1/treatments/?kind=acupuncture", "kind"),
        ("/api/v1/patients/?archived=perhaps", "archived"),
        ("/api/v1/complications/?resolved=yes", "resolved"),
        ("/api/v1/complications/?treatment=abc", "treatment"),
        ("/api/v1/presentations/?patient=1.5", "patient"),
        ("/api/v1/treatments/?presentation=0", "presentation"),
        # Beyond a 64-bit id, and beyond any float: these once reached the database driver and answered 500.
        ("/api/v1/presentations/?patient=99999999999999999999999", "patient"),
        ("/api/v1/presentations/?clinician=99999999999999999999999", "clinician"),
        ("/api/v1/visits/?clinician=1e30", "clinician"),
        ("/api/v1/presentations/?rung=-1e400", "rung"),
        ("/api/v1/presentations/?rung=5", "rung"),
        ("/api/v1/presentations/?interspace=1e30", "interspace"),
    ],
)
def test_invalid_filter_value_answers_400_problem_naming_the_filter(api, path, field):
    body = assert_problem(api.get(path), 400)
    assert field in body["errors"]


# "o=abc" (an offset that is not a number), and a value that is not base64 at all.
@pytest.mark.parametrize("cursor", ["bz1hYmM=", "%%%not-base64"])
def test_invalid_cursor_answers_404_problem(api, cursor):
    body = assert_problem(api.get("/api/v1/patients/", {"cursor": cursor}), 404)
    assert "cursor" in body["detail"].lower()


def test_unsupported_accept_header_answers_406_problem(api):
    body = assert_problem(api.get("/api/v1/patients/", HTTP_ACCEPT="application/xml"), 406)
    assert "Accept" in body["detail"]


# Failures of the server itself


def test_unexpected_error_answers_500_problem_without_leaking_the_cause(api, monkeypatch):
    def broken(self):
        raise RuntimeError("secret internals: patient 42")

    monkeypatch.setattr(views.PatientViewSet, "base_queryset", broken)

    body = assert_problem(api.get("/api/v1/patients/"), 500)

    assert "secret internals" not in json.dumps(body)


def test_unreachable_database_answers_503_problem(api, monkeypatch):
    def unreachable(self):
        raise OperationalError("connection refused")

    monkeypatch.setattr(views.PatientViewSet, "base_queryset", unreachable)

    body = assert_problem(api.get("/api/v1/patients/"), 503)

    assert "connection refused" not in json.dumps(body)


# One shape for every error


def _other_clinic_patient_path(other_clinic) -> str:
    return f"/api/v1/patients/{PatientFactory(clinic=other_clinic).pk}/"


ERROR_REQUESTS = {
    "401 no credentials": ("anonymous", "get", "/api/v1/patients/", {}, 401),
    "403 reviewer writes": ("reviewer", "post", "/api/v1/patients/", {"data": patient_body()}, 403),
    "404 unknown route": ("podiatrist", "get", "/api/v1/nothing-here/", {}, 404),
    "404 other clinic": ("podiatrist", "get", _other_clinic_patient_path, {}, 404),
    "405 delete": ("podiatrist", "delete", "/api/v1/patients/", {}, 405),
    "406 accept": ("podiatrist", "get", "/api/v1/patients/", {"HTTP_ACCEPT": "image/png"}, 406),
    "400 invalid field": ("podiatrist", "post", "/api/v1/patients/", {"data": patient_body(sex="f")}, 400),
    "415 form body": (
        "podiatrist",
        "post",
        "/api/v1/patients/",
        {"data": "mrn=1", "content_type": "application/x-www-form-urlencoded"},
        415,
    ),
}


@pytest.mark.parametrize("case", ERROR_REQUESTS.values(), ids=ERROR_REQUESTS.keys())
def test_every_error_status_answers_problem_details(bearer, anonymous, podiatrist, reviewer, other_clinic, case):
    who, method, path, kwargs, status = case
    client = anonymous if who == "anonymous" else bearer(podiatrist if who == "podiatrist" else reviewer)
    if callable(path):
        path = path(other_clinic)
    kwargs = dict(kwargs)
    if "data" in kwargs and "content_type" not in kwargs:
        kwargs["format"] = "json"
    assert_problem(getattr(client, method)(path, **kwargs), status)
