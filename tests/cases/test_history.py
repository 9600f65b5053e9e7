"""Change history: every clinical record keeps its versions, and no bulk path writes around them."""

import decimal

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases import services
from cases.audit import AuditAction, AuditEvent, UnrecordedWriteRefused, acting
from cases.bulk import bulk_create_clinical
from cases.choices import Imaging
from cases.models import Complication, Patient, Presentation, Treatment, Visit

from ..factories import PatientFactory, PresentationFactory, UserFactory, VisitFactory

pytestmark = pytest.mark.django_db


def test_a_service_change_keeps_the_old_and_new_values_and_who_made_it(podiatrist, clinic):
    patient = PatientFactory(clinic=clinic, phone="")
    with acting(user=podiatrist):
        services.patient_update(patient=patient, phone="020 7946 0003")

    latest = patient.history.latest()
    assert (latest.history_type, latest.history_user) == ("~", podiatrist)
    assert [(c.field, c.old, c.new) for c in latest.diff_against(latest.prev_record).changes] == [
        ("phone", "", "020 7946 0003")
    ]


def test_a_change_made_by_a_command_names_the_command_on_its_history_page(client, clinic):
    patient = PatientFactory(clinic=clinic, phone="")
    with acting(label="command:seed_demo"):
        services.patient_update(patient=patient, phone="020 7946 0004")
    latest = patient.history.latest()
    assert (latest.history_user, latest.history_actor) == (None, "command:seed_demo")

    client.force_login(UserFactory(username="root", is_superuser=True))
    page = client.get(f"/admin/cases/patient/{patient.pk}/history/").content.decode()
    assert "command:seed_demo" in page
    assert "None" not in page.split('id="change-history"')[1].split("</table>")[0]


def test_a_change_made_in_a_request_names_the_user_as_actor_too(podiatrist, clinic):
    patient = PatientFactory(clinic=clinic, phone="")
    with acting(user=podiatrist):
        services.patient_update(patient=patient, phone="020 7946 0005")
    assert patient.history.latest().history_actor == podiatrist.get_username()


@pytest.mark.parametrize("model", [Patient, Presentation, Visit, Treatment, Complication])
def test_queryset_update_on_a_clinical_model_is_refused_and_names_the_services(model):
    with pytest.raises(UnrecordedWriteRefused, match=r"cases\.services"):
        model.objects.all().update(created_at=F("created_at"))


def test_bulk_update_on_a_clinical_model_is_refused():
    visit = VisitFactory()
    visit.pain_walking = 3
    with pytest.raises(UnrecordedWriteRefused, match=r"cases\.services"):
        Visit.objects.bulk_update([visit], ["pain_walking"])


def test_bulk_create_on_a_clinical_model_is_refused_and_names_the_sanctioned_path(clinic):
    with pytest.raises(UnrecordedWriteRefused, match=r"cases\.bulk\.bulk_create_clinical"):
        Patient.objects.bulk_create([PatientFactory.build(clinic=clinic)])
    assert not Patient.objects.exists()


def test_bulk_create_clinical_writes_history_rows_and_one_audit_event_per_batch(podiatrist, clinic):
    rows = [PatientFactory.build(clinic=clinic, mrn=f"BULK-{n}") for n in range(5)]

    with acting(user=podiatrist, label="command:import"):
        created = bulk_create_clinical(Patient, rows, batch_size=2)

    assert len(created) == Patient.objects.count() == 5
    history = Patient.history.all()
    assert sorted(history.values_list("id", flat=True)) == sorted(patient.pk for patient in created)
    assert set(history.values_list("history_type", "history_user")) == {("+", podiatrist.pk)}
    batches = AuditEvent.objects.filter(action=AuditAction.CREATE).order_by("pk")
    assert [event.patient_ids for event in batches] == [
        [created[0].pk, created[1].pk],
        [created[2].pk, created[3].pk],
        [created[4].pk],
    ]
    assert {event.clinic_id for event in batches} == {clinic.pk}


def test_bulk_created_visits_are_audited_against_their_patients(clinic, podiatrist):
    presentation = PresentationFactory(patient__clinic=clinic)
    visits = [VisitFactory.build(presentation=presentation, clinician=podiatrist) for _ in range(3)]

    bulk_create_clinical(Visit, visits)

    assert Visit.history.count() == 3
    (event,) = AuditEvent.objects.filter(object_type="cases.visit")
    assert event.patient_ids == [presentation.patient_id]


def test_bulk_created_history_rows_hold_every_field_of_the_record_who_loaded_it_and_no_change_reason(
    podiatrist, clinic
):
    # The same content whichever way the history goes in (bulk_create_with_history on SQLite, COPY on PostgreSQL).
    patient = PatientFactory(clinic=clinic)
    rows = [
        PresentationFactory.build(
            patient=patient, interspace=n, imaging=Imaging.ULTRASOUND, size_mm=decimal.Decimal("5.5")
        )
        for n in (2, 3)
    ]
    before = timezone.now()

    with acting(user=podiatrist, label="command:import"):
        created = bulk_create_clinical(Presentation, rows)

    fields = [field.attname for field in Presentation._meta.concrete_fields]
    for presentation in created:
        (history,) = Presentation.history.filter(id=presentation.pk)
        stored = Presentation.objects.get(pk=presentation.pk)
        assert {name: getattr(history, name) for name in fields} == {name: getattr(stored, name) for name in fields}
        assert stored.symptoms == ["burning", "numbness"] and stored.size_mm == decimal.Decimal("5.5")
        assert (history.history_type, history.history_user_id, history.history_change_reason) == (
            "+",
            podiatrist.pk,
            None,
        )
        assert before <= stored.created_at <= history.history_date <= timezone.now()


def test_bulk_loaded_rows_whose_parents_are_in_memory_are_audited_without_reading_them_back(clinic, podiatrist):
    presentation = PresentationFactory(patient__clinic=clinic)
    visits = [VisitFactory.build(presentation=presentation, clinician=podiatrist) for _ in range(3)]

    with CaptureQueriesContext(connection) as queries:
        bulk_create_clinical(Visit, visits)

    assert not [query for query in queries if 'FROM "cases_visit"' in query["sql"]]
    (event,) = AuditEvent.objects.filter(object_type="cases.visit")
    assert (event.patient_ids, event.clinic_id) == ([presentation.patient_id], clinic.pk)


def test_bulk_loaded_rows_given_only_their_parents_ids_are_still_audited_against_the_right_patient(clinic, podiatrist):
    presentation = PresentationFactory(patient__clinic=clinic)
    visits = [
        Visit(
            presentation_id=presentation.pk,
            clinician=podiatrist,
            seen_on=presentation.first_seen_on,
            pain_walking=5,
            pain_rest=0,
        )
        for _ in range(2)
    ]

    bulk_create_clinical(Visit, visits)

    (event,) = AuditEvent.objects.filter(object_type="cases.visit")
    assert (event.patient_ids, event.clinic_id) == ([presentation.patient_id], clinic.pk)
    assert Visit.history.filter(presentation_id=presentation.pk).count() == 2


def test_a_bulk_loaded_row_given_its_own_primary_key_keeps_it_in_the_record_and_its_history(clinic):
    chosen = Patient.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    row = PatientFactory.build(clinic=clinic, id=chosen + 1000)

    (patient,) = bulk_create_clinical(Patient, [row])

    assert patient.pk == chosen + 1000
    assert Patient.objects.filter(pk=chosen + 1000).exists()
    assert Patient.history.filter(id=chosen + 1000, history_type="+").count() == 1
