"""Change history: every clinical record keeps its versions, and no bulk path writes around them."""

import pytest
from django.db.models import F

from cases import services
from cases.audit import acting
from cases.audit_event import AuditAction, AuditEvent
from cases.bulk import bulk_create_clinical
from cases.history import UnrecordedWriteRefused
from cases.models import Complication, Patient, Presentation, Treatment, Visit

from ..factories import PatientFactory, PresentationFactory, VisitFactory

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
