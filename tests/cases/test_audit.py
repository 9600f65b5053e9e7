"""The audit trail outside the API: admin pages and saves, sign-ins, commands, and the trail's own immutability."""

import io

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from cases import services
from cases.audit import AuditAction, AuditEvent, AuditTrailIsAppendOnly, AuditVia, acting, audit_record
from cases.models import Patient

from ..factories import PatientFactory, PresentationFactory, VisitFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # tests/factories.py
AUDIT_LIST = "admin:cases_auditevent_changelist"


@pytest.fixture
def as_clinic_admin(client, clinic_admin):
    client.force_login(clinic_admin)
    return client


def events(**filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(**filters).exclude(action=AuditAction.LOGIN))


# Admin pages


def test_a_changelist_records_the_patients_on_its_page(as_podiatrist, podiatrist, clinic, other_clinic):
    shown = [PatientFactory(clinic=clinic) for _ in range(3)]
    PatientFactory(clinic=other_clinic)

    response = as_podiatrist.get(reverse("admin:cases_patient_changelist"), REMOTE_ADDR="192.0.2.4")

    assert response.status_code == 200
    (event,) = events()
    assert (event.action, event.via, event.actor, event.role, event.clinic_id) == (
        AuditAction.LIST,
        AuditVia.ADMIN,
        podiatrist,
        "podiatrist",
        clinic.pk,
    )
    assert sorted(event.patient_ids) == sorted(patient.pk for patient in shown)
    assert event.client_ip == "192.0.2.4"
    assert event.request_id == response["X-Request-ID"]


def test_a_visit_changelist_records_the_patients_behind_the_visits(as_podiatrist, clinic):
    visit = VisitFactory(presentation=PresentationFactory(patient__clinic=clinic))

    as_podiatrist.get(reverse("admin:cases_visit_changelist"))

    (event,) = events()
    assert (event.object_type, event.patient_ids) == ("cases.visit", [visit.presentation.patient_id])


def test_opening_a_patient_records_a_view(as_podiatrist, clinic):
    patient = PatientFactory(clinic=clinic)

    assert as_podiatrist.get(reverse("admin:cases_patient_change", args=[patient.pk])).status_code == 200

    (event,) = events()
    assert (event.action, event.object_type, event.object_id, event.patient_id) == (
        AuditAction.VIEW,
        "cases.patient",
        str(patient.pk),
        patient.pk,
    )


def test_saving_a_patient_in_the_admin_records_an_update_and_history_with_the_user(as_podiatrist, podiatrist, clinic):
    patient = PatientFactory(clinic=clinic, phone="")
    form = {
        "clinic": clinic.pk,
        "mrn": patient.mrn,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "birth_date": patient.birth_date.isoformat(),
        "sex": patient.sex,
        "phone": "020 7946 0001",
        "email": "",
        "presentations-TOTAL_FORMS": "0",
        "presentations-INITIAL_FORMS": "0",
    }

    response = as_podiatrist.post(reverse("admin:cases_patient_change", args=[patient.pk]), form)

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    (event,) = events()
    assert (event.action, event.via, event.patient_id) == (AuditAction.UPDATE, AuditVia.ADMIN, patient.pk)
    latest = patient.history.latest()
    assert latest.history_user == podiatrist
    assert [(c.field, c.old, c.new) for c in latest.diff_against(latest.prev_record).changes] == [
        ("phone", "", "020 7946 0001")
    ]


def test_a_refused_admin_save_records_no_update(as_podiatrist, clinic):
    patient = PatientFactory(clinic=clinic)
    form = {"clinic": clinic.pk, "mrn": "", "presentations-TOTAL_FORMS": "0", "presentations-INITIAL_FORMS": "0"}

    response = as_podiatrist.post(reverse("admin:cases_patient_change", args=[patient.pk]), form)

    assert response.status_code == 200  # the form again, with its errors
    assert [event.action for event in events()] == [AuditAction.VIEW]


def test_archiving_from_the_changelist_records_an_archive_per_patient(as_podiatrist, clinic):
    patients = [PatientFactory(clinic=clinic) for _ in range(2)]

    as_podiatrist.post(
        reverse("admin:cases_patient_changelist"),
        {"action": "archive_selected", "_selected_action": [patient.pk for patient in patients]},
    )

    archived = events(action=AuditAction.ARCHIVE)
    assert sorted(event.patient_id for event in archived) == sorted(patient.pk for patient in patients)
    assert {event.via for event in archived} == {AuditVia.ADMIN}


def test_a_patients_history_page_shows_the_changes_and_records_a_view(as_podiatrist, clinic):
    patient = PatientFactory(clinic=clinic)
    services.patient_update(patient=patient, phone="020 7946 0002")

    response = as_podiatrist.get(reverse("admin:cases_patient_history", args=[patient.pk]))

    assert response.status_code == 200
    assert "020 7946 0002" in response.content.decode()
    assert events(action=AuditAction.VIEW, patient_id=patient.pk)


# Sign-ins


def test_an_admin_sign_in_records_a_login(client, podiatrist, clinic):
    client.post(reverse("admin:login"), {"username": "podiatrist", "password": PASSWORD}, REMOTE_ADDR="192.0.2.8")

    (event,) = AuditEvent.objects.filter(action=AuditAction.LOGIN)
    assert (event.actor, event.via, event.clinic_id, event.client_ip) == (
        podiatrist,
        AuditVia.ADMIN,
        clinic.pk,
        "192.0.2.8",
    )


def test_a_failed_admin_sign_in_records_the_attempted_username_and_no_actor(client, podiatrist):
    client.post(reverse("admin:login"), {"username": "podiatrist", "password": "wrong"}, REMOTE_ADDR="192.0.2.9")

    (event,) = AuditEvent.objects.all()
    assert (event.action, event.actor, event.actor_label, event.client_ip) == (
        AuditAction.LOGIN_FAILURE,
        None,
        "podiatrist",
        "192.0.2.9",
    )


# Commands


def test_seed_demo_records_its_writes_as_the_command_with_one_request_id():
    call_command("seed_demo", patients=2, clinics=1, stdout=io.StringIO(), stderr=io.StringIO())

    created = AuditEvent.objects.filter(action=AuditAction.CREATE, object_type="cases.patient")
    assert sorted(created.values_list("patient_id", flat=True)) == sorted(Patient.objects.values_list("pk", flat=True))
    # A follow-up answer or refusal names the staff member who recorded it as its actor (docs/follow-ups.md);
    # the door and the label still say the command wrote it.
    recorded_by_staff = ("cases.followupanswer", "cases.followup")
    assert set(
        AuditEvent.objects.exclude(object_type__in=recorded_by_staff).values_list("via", "actor_label", "actor")
    ) == {(AuditVia.COMMAND, "command:seed_demo", None)}
    assert set(AuditEvent.objects.values_list("via", "actor_label")) == {(AuditVia.COMMAND, "command:seed_demo")}
    assert AuditEvent.objects.values("request_id").distinct().count() == 1


def test_a_write_outside_any_request_is_recorded_as_a_command(clinic):
    with acting(label="command:import"):
        patient = services.patient_create(
            clinic=clinic, mrn="CMD-1", given_name="A", family_name="B", birth_date="1970-01-01", sex="male"
        )

    event = AuditEvent.objects.get()
    assert (event.via, event.actor_label, event.patient_id, event.clinic_id) == (
        AuditVia.COMMAND,
        "command:import",
        patient.pk,
        clinic.pk,
    )


# The trail is append-only


def test_an_audit_event_cannot_be_changed_or_deleted_through_the_orm(clinic):
    event = audit_record(action=AuditAction.VIEW, record=PatientFactory(clinic=clinic))

    event.object_id = "tampered"
    with pytest.raises(AuditTrailIsAppendOnly):
        event.save()
    with pytest.raises(AuditTrailIsAppendOnly):
        event.delete()
    with pytest.raises(AuditTrailIsAppendOnly):
        AuditEvent.objects.update(object_id="tampered")
    with pytest.raises(AuditTrailIsAppendOnly):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get().object_id != "tampered"


@pytest.mark.parametrize(
    "statement", ["UPDATE cases_auditevent SET object_id = 'tampered'", "DELETE FROM cases_auditevent"]
)
def test_postgresql_refuses_raw_sql_that_changes_or_deletes_audit_events(on_postgres, clinic, statement):
    audit_record(action=AuditAction.VIEW, record=PatientFactory(clinic=clinic))

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)

    assert AuditEvent.objects.filter(object_id="tampered").count() == 0
    assert AuditEvent.objects.count() == 1


# Browsing the trail


def test_a_clinic_admin_browses_only_their_clinics_events(as_clinic_admin, clinic, other_clinic):
    mine = audit_record(action=AuditAction.VIEW, record=PatientFactory(clinic=clinic))
    theirs = audit_record(action=AuditAction.VIEW, record=PatientFactory(clinic=other_clinic))

    response = as_clinic_admin.get(reverse(AUDIT_LIST))

    assert response.status_code == 200
    shown = {event.pk for event in response.context["cl"].result_list}
    assert mine.pk in shown and theirs.pk not in shown
    assert as_clinic_admin.get(reverse("admin:cases_auditevent_change", args=[theirs.pk])).status_code == 302


def test_nobody_adds_changes_or_deletes_an_event_in_the_admin(client, superuser, clinic):
    event = audit_record(action=AuditAction.VIEW, record=PatientFactory(clinic=clinic))
    client.force_login(superuser)

    assert client.get(reverse("admin:cases_auditevent_add")).status_code == 403
    assert client.get(reverse("admin:cases_auditevent_delete", args=[event.pk])).status_code == 403
    page = client.get(reverse("admin:cases_auditevent_change", args=[event.pk]))
    assert page.status_code == 200 and b'name="_save"' not in page.content


@pytest.mark.parametrize("role_fixture", ["podiatrist", "reviewer"])
def test_podiatrists_and_reviewers_do_not_see_the_audit_trail(client, request, role_fixture):
    client.force_login(request.getfixturevalue(role_fixture))

    assert client.get(reverse(AUDIT_LIST)).status_code == 403


def test_the_access_report_is_one_click_from_the_patient_and_lists_who_saw_them(as_clinic_admin, podiatrist, clinic):
    patient, other = PatientFactory(clinic=clinic), PatientFactory(clinic=clinic)
    viewed = audit_record(action=AuditAction.VIEW, record=patient, user=podiatrist)
    listed = audit_record(action=AuditAction.LIST, records=[other, patient], user=podiatrist)
    unrelated = audit_record(action=AuditAction.VIEW, record=other, user=podiatrist)

    page = as_clinic_admin.get(reverse("admin:cases_patient_change", args=[patient.pk])).content.decode()
    report_url = f"{reverse(AUDIT_LIST)}?patient={patient.pk}"
    assert f'href="{report_url}"' in page

    report = as_clinic_admin.get(report_url)
    shown = {event.pk for event in report.context["cl"].result_list}
    assert {viewed.pk, listed.pk} <= shown
    assert unrelated.pk not in shown
