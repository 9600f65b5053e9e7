"""Optimistic concurrency (ETag / If-Match) and idempotent creates (Idempotency-Key), through HTTP."""

import threading

import pytest
from django.db import connection

from api.models import IdempotencyRecord
from cases.models import Patient, Treatment, Visit
from tests.factories import PatientFactory, PresentationFactory, TreatmentFactory, VisitFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def visit(clinic, podiatrist):
    presentation = PresentationFactory(patient=PatientFactory(clinic=clinic))
    return VisitFactory(presentation=presentation, clinician=podiatrist, pain_walking=6)


def visit_url(visit):
    return f"/api/v1/visits/{visit.pk}/"


# ETag and If-Match


def test_retrieve_carries_an_etag_that_changes_when_the_record_changes(api, visit):
    first = api.get(visit_url(visit))
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')

    assert api.get(visit_url(visit)).headers["ETag"] == etag
    updated = api.patch(visit_url(visit), {"pain_walking": 4}, HTTP_IF_MATCH=etag)
    assert updated.status_code == 200
    assert updated.headers["ETag"] != etag
    assert api.get(visit_url(visit)).headers["ETag"] == updated.headers["ETag"]


def test_patch_with_a_stale_if_match_is_412_and_leaves_the_row_unchanged(api, visit):
    stale = api.get(visit_url(visit)).headers["ETag"]
    assert api.patch(visit_url(visit), {"pain_walking": 5}, HTTP_IF_MATCH=stale).status_code == 200

    response = api.patch(visit_url(visit), {"pain_walking": 2}, HTTP_IF_MATCH=stale)

    assert response.status_code == 412
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 412
    visit.refresh_from_db()
    assert visit.pain_walking == 5


def test_put_with_a_stale_if_match_is_412(api, visit):
    current = api.get(visit_url(visit))
    body = {k: v for k, v in current.json().items() if k not in ("id", "created_at", "updated_at")}
    api.patch(visit_url(visit), {"notes": "seen by second clinician"}, HTTP_IF_MATCH=current.headers["ETag"])

    response = api.put(visit_url(visit), {**body, "pain_walking": 1}, HTTP_IF_MATCH=current.headers["ETag"])

    assert response.status_code == 412
    visit.refresh_from_db()
    assert (visit.pain_walking, visit.notes) == (6, "seen by second clinician")


def test_if_match_star_and_a_list_containing_the_current_etag_succeed(api, visit):
    etag = api.get(visit_url(visit)).headers["ETag"]
    assert api.patch(visit_url(visit), {"pain_rest": 1}, HTTP_IF_MATCH="*").status_code == 200
    etag = api.get(visit_url(visit)).headers["ETag"]
    assert api.patch(visit_url(visit), {"pain_rest": 2}, HTTP_IF_MATCH=f'"nope", {etag}').status_code == 200


def test_archive_with_a_stale_if_match_is_412(api, clinic):
    patient = PatientFactory(clinic=clinic)
    url = f"/api/v1/patients/{patient.pk}/"
    stale = api.get(url).headers["ETag"]
    api.patch(url, {"phone": "0161 496 0000"}, HTTP_IF_MATCH=stale)

    assert api.post(f"{url}archive/", HTTP_IF_MATCH=stale).status_code == 412
    assert not Patient.objects.get(pk=patient.pk).archived


@pytest.mark.django_db(transaction=True)
def test_two_writers_with_the_same_etag_cannot_both_succeed(on_postgres, bearer, clinic, podiatrist):
    """No lost update: of two concurrent PATCHes made from the same read, exactly one lands."""
    presentation = PresentationFactory(patient=PatientFactory(clinic=clinic))
    visit = VisitFactory(presentation=presentation, clinician=podiatrist, pain_walking=6)
    clients = [bearer(podiatrist), bearer(podiatrist)]
    etag = clients[0].get(visit_url(visit)).headers["ETag"]
    barrier = threading.Barrier(2)
    statuses = []

    def write(client, pain):
        barrier.wait()
        try:
            statuses.append(client.patch(visit_url(visit), {"pain_walking": pain}, HTTP_IF_MATCH=etag).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(c, pain)) for c, pain in zip(clients, (3, 8), strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200, 412]
    assert Visit.objects.get(pk=visit.pk).pain_walking in (3, 8)


# Idempotency-Key


def _visit_body(presentation, **overrides):
    return {"presentation": presentation.pk, "seen_on": "2026-02-01", "pain_walking": 5, "pain_rest": 0, **overrides}


def test_retried_post_with_the_same_key_replays_the_first_response_and_writes_once(api, clinic):
    presentation = PresentationFactory(patient=PatientFactory(clinic=clinic))
    body = _visit_body(presentation)

    first = api.post("/api/v1/visits/", body, HTTP_IDEMPOTENCY_KEY="visit-2026-02-01-abc")
    retry = api.post("/api/v1/visits/", body, HTTP_IDEMPOTENCY_KEY="visit-2026-02-01-abc")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Location"] == first.headers["Location"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert Visit.objects.filter(presentation=presentation).count() == 1


def test_same_key_with_a_different_body_is_422_and_writes_nothing(api, clinic):
    presentation = PresentationFactory(patient=PatientFactory(clinic=clinic))
    api.post("/api/v1/visits/", _visit_body(presentation), HTTP_IDEMPOTENCY_KEY="k1")

    response = api.post("/api/v1/visits/", _visit_body(presentation, pain_walking=7), HTTP_IDEMPOTENCY_KEY="k1")

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert "different request" in response.json()["detail"]
    assert Visit.objects.filter(presentation=presentation).count() == 1


def test_a_refused_request_is_not_remembered_so_the_key_can_carry_the_corrected_one(api, clinic):
    presentation = PresentationFactory(patient=PatientFactory(clinic=clinic))
    bad = api.post("/api/v1/visits/", _visit_body(presentation, pain_walking=11), HTTP_IDEMPOTENCY_KEY="k2")
    assert bad.status_code == 400
    assert not IdempotencyRecord.objects.filter(key="k2").exists()

    corrected = api.post("/api/v1/visits/", _visit_body(presentation, pain_walking=8), HTTP_IDEMPOTENCY_KEY="k2")
    assert corrected.status_code == 201
    assert Visit.objects.get(presentation=presentation).pain_walking == 8


def test_keys_belong_to_their_user(bearer, clinic, podiatrist, clinic_admin):
    presentation = PresentationFactory(patient=PatientFactory(clinic=clinic))
    body = _visit_body(presentation)
    assert bearer(podiatrist).post("/api/v1/visits/", body, HTTP_IDEMPOTENCY_KEY="shared").status_code == 201
    assert bearer(clinic_admin).post("/api/v1/visits/", body, HTTP_IDEMPOTENCY_KEY="shared").status_code == 201
    assert Visit.objects.filter(presentation=presentation).count() == 2


def test_an_expired_key_can_be_reused_for_a_new_request(api, clinic, settings):
    presentation = PresentationFactory(patient=PatientFactory(clinic=clinic))
    api.post("/api/v1/visits/", _visit_body(presentation), HTTP_IDEMPOTENCY_KEY="k3")
    IdempotencyRecord.objects.filter(key="k3").update(expires_at="2000-01-01T00:00:00Z")

    again = api.post("/api/v1/visits/", _visit_body(presentation, seen_on="2026-02-02"), HTTP_IDEMPOTENCY_KEY="k3")

    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert Visit.objects.filter(presentation=presentation).count() == 2


def test_key_length_is_checked(api, clinic):
    presentation = PresentationFactory(patient=PatientFactory(clinic=clinic))
    response = api.post("/api/v1/visits/", _visit_body(presentation), HTTP_IDEMPOTENCY_KEY="x" * 256)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]
    assert not Visit.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_key_write_one_treatment(on_postgres, bearer, clinic, podiatrist):
    presentation = PresentationFactory(patient=PatientFactory(clinic=clinic))
    TreatmentFactory(presentation=presentation, clinician=podiatrist)
    body = {
        "presentation": presentation.pk,
        "kind": "orthosis",
        "orthosis_type": "metatarsal_pad",
        "started_on": "2026-02-20",
    }
    clients = [bearer(podiatrist), bearer(podiatrist)]
    barrier = threading.Barrier(2)
    responses = []

    def post(client):
        barrier.wait()
        try:
            responses.append(client.post("/api/v1/treatments/", body, HTTP_IDEMPOTENCY_KEY="orthosis-once"))
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [r.status_code for r in responses] == [201, 201]
    assert responses[0].json()["id"] == responses[1].json()["id"]
    assert Treatment.objects.filter(presentation=presentation, kind="orthosis").count() == 1
