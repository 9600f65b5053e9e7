"""Who is let in: bearer tokens (digest-only, expiring, revocable), session login for staff, clinic membership."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import ApiToken, token_digest
from tests.factories import ComplicationFactory, PatientFactory, UserFactory, VisitFactory

from .test_errors import assert_problem, patient_body

PATIENTS = "/api/v1/patients/"


def _token_for(client: APIClient) -> ApiToken:
    return ApiToken.objects.get(digest=token_digest(client.token_secret))


def _client_with_header(value: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=value)
    return client


# Missing and malformed credentials


def test_request_without_credentials_answers_401_with_bearer_challenge(anonymous, db):
    response = anonymous.get(PATIENTS)

    body = assert_problem(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert body["detail"] == "Authentication credentials were not provided."


def test_write_without_credentials_answers_401_and_writes_nothing(anonymous, db):
    response = anonymous.post(PATIENTS, patient_body(), format="json")

    assert_problem(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "header",
    ["Bearer ntk_thisTokenWasNeverIssued", "Bearer " + "x" * 500, "bearer ntk_lowercaseKeywordStillChecked"],
)
def test_unknown_token_answers_401_invalid_token(db, header):
    response = _client_with_header(header).get(PATIENTS)

    body = assert_problem(response, 401)
    assert body["detail"] == "Invalid token."
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_token_with_non_ascii_characters_answers_401_invalid_token(db):
    body = assert_problem(_client_with_header("Bearer ntk_caf\u00e9").get(PATIENTS), 401)
    assert body["detail"] == "Invalid token."


@pytest.mark.parametrize("header", ["Bearer", "Bearer ntk_one ntk_two", "Bearer ntk_a b c"])
def test_malformed_bearer_header_answers_401_naming_the_expected_form(db, header):
    body = assert_problem(_client_with_header(header).get(PATIENTS), 401)
    assert body["detail"] == "Malformed Authorization header: use 'Bearer <token>'."


def test_other_authorization_schemes_are_not_accepted_as_tokens(db):
    basic = _client_with_header("Basic cG9kaWF0cmlzdDpwYXNzd29yZA==")
    body = assert_problem(basic.get(PATIENTS), 401)
    assert body["detail"] == "Authentication credentials were not provided."


# Token life cycle


def test_valid_token_is_let_in(api, clinic):
    PatientFactory(clinic=clinic)
    response = api.get(PATIENTS)
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


def test_expired_token_answers_401_token_expired(bearer, podiatrist):
    client = bearer(podiatrist, days=30)
    # Issued 31 days ago for 30 days (the row's own constraint keeps expiry after creation).
    issued = timezone.now() - datetime.timedelta(days=31)
    ApiToken.objects.filter(user=podiatrist).update(created_at=issued, expires_at=issued + datetime.timedelta(days=30))

    body = assert_problem(client.get(PATIENTS), 401)

    assert body["detail"] == "This token has expired."


def test_revoked_token_answers_401_token_revoked(bearer, podiatrist):
    client = bearer(podiatrist)
    assert client.get(PATIENTS).status_code == 200

    _token_for(client).revoke()
    body = assert_problem(client.get(PATIENTS), 401)

    assert body["detail"] == "This token has been revoked."


def test_token_of_an_inactive_user_answers_401_user_inactive(bearer, podiatrist):
    client = bearer(podiatrist)
    podiatrist.is_active = False
    podiatrist.save(update_fields=["is_active"])

    body = assert_problem(client.get(PATIENTS), 401)

    assert body["detail"] == "This token's user is inactive."


def test_token_is_stored_only_as_its_digest(bearer, podiatrist):
    client = bearer(podiatrist)
    secret = client.token_secret
    row = ApiToken.objects.filter(user=podiatrist).values().get()

    assert row["digest"] == token_digest(secret)
    assert not [column for column, value in row.items() if secret in str(value)]
    assert secret.startswith(row["prefix"]) and len(row["prefix"]) < len(secret) // 2


def test_first_use_records_last_used_at(bearer, podiatrist):
    client = bearer(podiatrist)
    assert _token_for(client).last_used_at is None

    before = timezone.now()
    client.get(PATIENTS)

    assert _token_for(client).last_used_at >= before


def test_last_used_at_is_not_rewritten_within_a_minute(bearer, podiatrist):
    client = bearer(podiatrist)
    client.get(PATIENTS)
    first_use = _token_for(client).last_used_at

    with CaptureQueriesContext(connection) as queries:
        client.get(PATIENTS)
        client.get(PATIENTS)

    assert _token_for(client).last_used_at == first_use
    assert not [q["sql"] for q in queries if q["sql"].startswith("UPDATE") and "api_apitoken" in q["sql"]]


def test_last_used_at_moves_on_after_a_minute(bearer, podiatrist):
    client = bearer(podiatrist)
    long_ago = timezone.now() - datetime.timedelta(minutes=5)
    ApiToken.objects.filter(user=podiatrist).update(last_used_at=long_ago)

    client.get(PATIENTS)

    assert _token_for(client).last_used_at > long_ago + datetime.timedelta(minutes=4)


def test_a_failed_token_check_does_not_record_a_use(bearer, podiatrist):
    client = bearer(podiatrist)
    _token_for(client).revoke()

    client.get(PATIENTS)

    assert _token_for(client).last_used_at is None


# Membership


def test_user_without_clinic_membership_answers_403(bearer, db, clinic):
    PatientFactory(clinic=clinic)
    outsider = UserFactory(username="outsider")

    response = bearer(outsider).get(PATIENTS)

    body = assert_problem(response, 403)
    assert body["detail"] == "Your account is not a member of any clinic."
    assert "results" not in body


def test_superuser_without_membership_is_let_in(bearer, superuser, clinic):
    PatientFactory(clinic=clinic)
    response = bearer(superuser).get(PATIENTS)
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


# Session login (the browsable API)


def test_logged_in_staff_user_reads_the_browsable_api(podiatrist, clinic):
    patient = PatientFactory(clinic=clinic, family_name="Browsable")
    client = APIClient()
    assert client.login(username="podiatrist", password="correct horse battery staple")

    response = client.get(PATIENTS, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert patient.family_name in response.content.decode()


@pytest.mark.parametrize("resource", ["patients", "presentations", "visits", "treatments", "complications"])
def test_browsable_api_renders_every_collection_and_record(podiatrist, clinic, resource):
    complication = ComplicationFactory(treatment__presentation__patient__clinic=clinic)
    treatment = complication.treatment
    records = {
        "patients": treatment.presentation.patient,
        "presentations": treatment.presentation,
        "visits": VisitFactory(presentation=treatment.presentation, clinician=podiatrist),
        "treatments": treatment,
        "complications": complication,
    }
    client = APIClient()
    client.login(username="podiatrist", password="correct horse battery staple")

    listed = client.get(f"/api/v1/{resource}/", HTTP_ACCEPT="text/html")
    record = client.get(f"/api/v1/{resource}/{records[resource].pk}/", HTTP_ACCEPT="text/html")

    assert (listed.status_code, record.status_code) == (200, 200)
    assert record["Content-Type"].startswith("text/html")


def test_logged_in_staff_user_reads_json_with_the_session(podiatrist, clinic):
    PatientFactory(clinic=clinic)
    client = APIClient()
    client.login(username="podiatrist", password="correct horse battery staple")

    response = client.get(PATIENTS)

    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


def test_session_write_without_csrf_token_answers_403_and_writes_nothing(podiatrist):
    client = APIClient(enforce_csrf_checks=True)
    client.login(username="podiatrist", password="correct horse battery staple")

    body = assert_problem(client.post(PATIENTS, patient_body(), format="json"), 403)

    assert "CSRF" in body["detail"]
    assert not podiatrist.memberships.get().clinic.patients.exists()


def test_session_of_a_user_without_membership_answers_403(db):
    UserFactory(username="visitor")
    client = APIClient()
    client.login(username="visitor", password="correct horse battery staple")

    body = assert_problem(client.get(PATIENTS), 403)

    assert body["detail"] == "Your account is not a member of any clinic."
