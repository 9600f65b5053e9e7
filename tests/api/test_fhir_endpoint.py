"""GET /api/v1/patients/{id}/fhir/: served as application/fhir+json, valid R4, scoped like every read."""

import pytest

from tests.factories import PatientFactory, PresentationFactory, TreatmentFactory, VisitFactory
from tests.fhir_validation import assert_valid_r4_bundle

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(clinic, podiatrist):
    patient = PatientFactory(clinic=clinic)
    presentation = PresentationFactory(patient=patient)
    VisitFactory(presentation=presentation, clinician=podiatrist, moxfq_pain=55)
    TreatmentFactory(presentation=presentation, clinician=podiatrist)
    return patient


def url(patient):
    return f"/api/v1/patients/{patient.pk}/fhir/"


def test_export_is_a_valid_r4_bundle_served_as_fhir_json(api, patient):
    response = api.get(url(patient))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    bundle = response.json()
    assert_valid_r4_bundle(bundle)
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "collection")


def test_reviewer_and_read_only_token_may_export(bearer, reviewer, podiatrist, patient):
    assert bearer(reviewer).get(url(patient)).status_code == 200
    assert bearer(podiatrist, scope="read").get(url(patient)).status_code == 200


def test_another_clinics_patient_is_not_found(bearer, other_podiatrist, patient):
    response = bearer(other_podiatrist).get(url(patient))

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert patient.mrn not in response.content.decode()


def test_export_without_credentials_is_401(anonymous, patient):
    assert anonymous.get(url(patient)).status_code == 401


def test_export_query_count_does_not_grow_with_the_record(api, clinic, podiatrist, django_assert_num_queries):
    small = PatientFactory(clinic=clinic)
    TreatmentFactory(presentation=PresentationFactory(patient=small), clinician=podiatrist)
    large = PatientFactory(clinic=clinic)
    for interspace in (2, 3):
        presentation = PresentationFactory(patient=large, interspace=interspace)
        for _ in range(5):
            VisitFactory(presentation=presentation, clinician=podiatrist)
        TreatmentFactory(presentation=presentation, clinician=podiatrist)
    api.get(url(small))  # stamp the token's last use first

    # token with memberships + patient + presentations, visits, treatments, complications, answered
    # follow-ups + the audit event
    with django_assert_num_queries(8):
        assert api.get(url(small)).status_code == 200
    with django_assert_num_queries(8):
        assert api.get(url(large)).status_code == 200
