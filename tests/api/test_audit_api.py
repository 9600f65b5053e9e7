"""The API's audit trail: every read and write of patient data over HTTP leaves one event naming who, what and whom."""

import pytest

from api.models import ApiToken
from cases.audit import AuditAction, AuditEvent, AuditVia
from cases.models import Patient
from tests.factories import PatientFactory, PresentationFactory, TreatmentFactory

pytestmark = pytest.mark.django_db

REQUEST_ID = "audit-test-0001"


def only_event(**filters) -> AuditEvent:
    (event,) = AuditEvent.objects.filter(**filters)
    return event


def get(client, url, **params):
    return client.get(url, params, HTTP_X_REQUEST_ID=REQUEST_ID, REMOTE_ADDR="203.0.113.7")


def test_retrieving_a_patient_records_a_view_with_actor_token_role_clinic_ip_and_request_id(api, podiatrist, clinic):
    patient = PatientFactory(clinic=clinic)
    token = ApiToken.objects.get(user=podiatrist)

    assert get(api, f"/api/v1/patients/{patient.pk}/").status_code == 200

    event = only_event(action=AuditAction.VIEW)
    assert (event.actor, event.actor_label, event.role, event.clinic_id) == (
        podiatrist,
        "podiatrist",
        "podiatrist",
        clinic.pk,
    )
    assert (event.api_token_id, event.api_token_prefix) == (token.pk, token.prefix)
    assert (event.via, event.object_type, event.object_id) == (AuditVia.API, "cases.patient", str(patient.pk))
    assert (event.patient_id, event.patient_ids) == (patient.pk, [patient.pk])
    assert (event.client_ip, event.request_id) == ("203.0.113.7", REQUEST_ID)


def test_a_list_records_exactly_the_patients_of_the_page_it_returned(api, clinic):
    patients = [PatientFactory(clinic=clinic) for _ in range(5)]
    response = get(api, "/api/v1/patients/", page_size=3, ordering="id")

    listed = [row["id"] for row in response.json()["results"]]
    event = only_event(action=AuditAction.LIST)
    assert event.patient_ids == listed == [patient.pk for patient in patients[:3]]
    assert event.patient_id is None
    assert event.clinic_id == clinic.pk


def test_a_treatment_list_records_the_patients_behind_the_treatments(api, clinic):
    first, second = PresentationFactory(patient__clinic=clinic), PresentationFactory(patient__clinic=clinic)
    TreatmentFactory(presentation=first)
    TreatmentFactory(presentation=second)

    get(api, "/api/v1/treatments/")

    assert sorted(only_event(action=AuditAction.LIST).patient_ids) == sorted([first.patient_id, second.patient_id])


def test_creating_a_patient_records_one_create_event_and_no_view(api, podiatrist, clinic):
    response = api.post(
        "/api/v1/patients/",
        {"mrn": "AUD-1", "given_name": "Ada", "family_name": "Okafor", "birth_date": "1971-03-09", "sex": "female"},
        HTTP_X_REQUEST_ID=REQUEST_ID,
    )
    assert response.status_code == 201

    event = only_event()
    assert (event.action, event.patient_id, event.actor, event.request_id) == (
        AuditAction.CREATE,
        response.json()["id"],
        podiatrist,
        REQUEST_ID,
    )


def test_a_refused_write_records_no_event(api, clinic):
    response = api.post("/api/v1/patients/", {"mrn": "AUD-2", "given_name": "Ada", "sex": "female"})

    assert response.status_code == 400
    assert not AuditEvent.objects.exists()
    assert not Patient.objects.exists()


def test_patching_a_patient_records_an_update_and_its_change_history_names_the_user(api, podiatrist, clinic):
    patient = PatientFactory(clinic=clinic, phone="")
    etag = api.get(f"/api/v1/patients/{patient.pk}/")["ETag"]

    response = api.patch(f"/api/v1/patients/{patient.pk}/", {"phone": "020 7946 0000"}, HTTP_IF_MATCH=etag)

    assert response.status_code == 200
    assert only_event(action=AuditAction.UPDATE).patient_id == patient.pk
    latest, before = patient.history.order_by("-history_id")[:2]
    assert latest.history_user == podiatrist
    assert [(c.field, c.old, c.new) for c in latest.diff_against(before).changes] == [("phone", "", "020 7946 0000")]


def test_archiving_a_patient_records_an_archive_event(api, clinic):
    patient = PatientFactory(clinic=clinic)
    etag = api.get(f"/api/v1/patients/{patient.pk}/")["ETag"]

    assert api.post(f"/api/v1/patients/{patient.pk}/archive/", HTTP_IF_MATCH=etag).status_code == 200

    assert only_event(action=AuditAction.ARCHIVE).patient_id == patient.pk


def test_the_fhir_bundle_records_an_export_of_the_patient(api, clinic):
    patient = PatientFactory(clinic=clinic)

    assert get(api, f"/api/v1/patients/{patient.pk}/fhir/").status_code == 200

    event = only_event(action=AuditAction.EXPORT)
    assert (event.patient_id, event.via) == (patient.pk, AuditVia.API)


@pytest.mark.parametrize("view", ["timeline", "next-step"])
def test_a_presentation_timeline_and_next_step_record_a_view(api, clinic, view):
    presentation = PresentationFactory(patient__clinic=clinic)

    assert get(api, f"/api/v1/presentations/{presentation.pk}/{view}/").status_code == 200

    event = only_event(action=AuditAction.VIEW)
    assert (event.object_type, event.object_id, event.patient_id) == (
        "cases.presentation",
        str(presentation.pk),
        presentation.patient_id,
    )


def test_another_clinics_record_is_not_found_and_records_no_view(api, other_clinic):
    patient = PatientFactory(clinic=other_clinic)

    assert api.get(f"/api/v1/patients/{patient.pk}/").status_code == 404
    assert not AuditEvent.objects.filter(action=AuditAction.VIEW).exists()


def test_a_bad_bearer_token_records_a_login_failure(anonymous):
    response = anonymous.get(
        "/api/v1/patients/", HTTP_AUTHORIZATION="Bearer ntk_not-a-token", REMOTE_ADDR="198.51.100.9"
    )

    assert response.status_code == 401
    event = only_event()
    assert (event.action, event.via, event.actor, event.client_ip) == (
        AuditAction.LOGIN_FAILURE,
        AuditVia.API,
        None,
        "198.51.100.9",
    )


def test_no_audit_row_holds_a_name_an_mrn_or_a_birth_date(api, clinic):
    patient = PatientFactory(clinic=clinic, mrn="SECRET-MRN", given_name="Zebedee", family_name="Quillfeather")
    get(api, f"/api/v1/patients/{patient.pk}/")
    get(api, "/api/v1/patients/")
    get(api, f"/api/v1/patients/{patient.pk}/fhir/")

    stored = " ".join(str(row) for row in AuditEvent.objects.values_list())
    for secret in ("SECRET-MRN", "Zebedee", "Quillfeather", patient.birth_date.isoformat()):
        assert secret not in stored
    assert AuditEvent.objects.count() == 3


def test_the_csv_export_records_every_exported_patient_once_and_no_other(api, clinic, other_clinic):
    # Two presentations of one patient, one of another, and another clinic's patient the export leaves out.
    twice = PatientFactory(clinic=clinic)
    PresentationFactory(patient=twice, foot="left")
    PresentationFactory(patient=twice, foot="right")
    once = PresentationFactory(patient__clinic=clinic).patient
    PresentationFactory(patient__clinic=other_clinic)

    response = get(api, "/api/v1/presentations/export/", format="csv")
    assert response.status_code == 200
    b"".join(response.streaming_content)

    event = only_event(action=AuditAction.EXPORT)
    assert (event.object_type, event.patient_ids) == ("cases.presentation", sorted([twice.pk, once.pk]))


def test_an_export_with_nothing_to_export_records_no_patient(api, clinic):
    response = get(api, "/api/v1/presentations/export/", format="csv")
    b"".join(response.streaming_content)
    assert only_event(action=AuditAction.EXPORT).patient_ids == []
