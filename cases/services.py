"""Every write to the case record goes through these functions.

Each one runs in a transaction, locks the presentation it changes (so two clinicians recording
injections at once cannot both slip under the yearly limit), validates with the model's
``full_clean()`` — which applies the field ranges, the cross-field rules and the treatment
ladder — and only then saves. A ``ValidationError`` leaves the database untouched.

Each also records its audit event (``cases.audit``) in the same transaction: a committed change always
has one, a refused change never does. The change history (``cases.audit.history``) follows ``save()``. A saved
visit or treatment also refreshes its presentation's stored outcome facts (``cases.outcomes``) here, in
the same transaction, rather than from a signal: what a write changes is read in the function that writes.

The admin, the API, the FHIR layer and the management commands all call these functions; none saves a
clinical record itself.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from . import outcomes, selectors
from .audit import AuditAction, audit_record
from .models import Clinic, Complication, Patient, Presentation, Treatment, Visit


def _validated_save(instance, audit_action: str = "", **fields: Any):
    creating = instance._state.adding
    for name, value in fields.items():
        setattr(instance, name, value)
    instance.full_clean()
    instance.save()
    audit_record(action=audit_action or (AuditAction.CREATE if creating else AuditAction.UPDATE), record=instance)
    return instance


def _lock_presentation(presentation: Presentation) -> Presentation:
    # Lock the presentation row only: without of=, PostgreSQL also locks the joined patient and clinic
    # rows, which would queue every write in the clinic behind this one.
    return (
        Presentation.objects.select_for_update(of=("self",)).select_related("patient__clinic").get(pk=presentation.pk)
    )


def _check_clinician(presentation: Presentation, clinician, *, current=None) -> None:
    """The treating clinician works in the presentation's clinic (``selectors.treating_clinicians``)."""
    if clinician is None or (current is not None and clinician.pk == current):
        return
    clinic_id = presentation.patient.clinic_id
    if (
        not selectors.treating_clinicians(clinic_id=clinic_id, presentation=presentation)
        .filter(pk=clinician.pk)
        .exists()
    ):
        raise ValidationError(
            {"clinician": "The treating clinician must be a podiatrist or clinic admin of this patient's clinic."}
        )


def _refresh_outcomes(presentation_id: int) -> None:
    outcomes.outcome_facts_refresh(presentation_id=presentation_id)


def _keep_parent(fields: dict[str, Any], parent: str) -> None:
    """A record never moves to another parent, whether the parent is given as an object or as its id."""
    fields.pop(parent, None)
    fields.pop(f"{parent}_id", None)


@transaction.atomic
def patient_create(*, clinic: Clinic, **fields: Any) -> Patient:
    return _validated_save(Patient(clinic=clinic), **fields)


@transaction.atomic
def patient_update(*, patient: Patient, **fields: Any) -> Patient:
    _keep_parent(fields, "clinic")
    return _validated_save(patient, **fields)


@transaction.atomic
def patient_archive(*, patient: Patient) -> Patient:
    """Archive instead of delete: clinical records are kept."""
    return _validated_save(patient, audit_action=AuditAction.ARCHIVE, archived=True)


@transaction.atomic
def presentation_create(*, patient: Patient, **fields: Any) -> Presentation:
    Patient.objects.select_for_update().get(pk=patient.pk)
    return _validated_save(Presentation(patient=patient), **fields)


@transaction.atomic
def presentation_update(*, presentation: Presentation, **fields: Any) -> Presentation:
    _keep_parent(fields, "patient")
    _lock_presentation(presentation)
    return _validated_save(presentation, **fields)


@transaction.atomic
def visit_record(*, presentation: Presentation, clinician, **fields: Any) -> Visit:
    presentation = _lock_presentation(presentation)
    _check_clinician(presentation, clinician)
    visit = _validated_save(Visit(presentation=presentation, clinician=clinician), **fields)
    _refresh_outcomes(presentation.pk)
    return visit


@transaction.atomic
def visit_update(*, visit: Visit, **fields: Any) -> Visit:
    _keep_parent(fields, "presentation")
    presentation = _lock_presentation(visit.presentation)
    if "clinician" in fields:
        _check_clinician(presentation, fields["clinician"], current=visit.clinician_id)
    visit = _validated_save(visit, **fields)
    _refresh_outcomes(presentation.pk)
    return visit


@transaction.atomic
def treatment_start(*, presentation: Presentation, kind: str, clinician, **fields: Any) -> Treatment:
    """Start a treatment; the ladder rules are checked against the presentation's locked history."""
    presentation = _lock_presentation(presentation)
    _check_clinician(presentation, clinician)
    treatment = _validated_save(Treatment(presentation=presentation, kind=kind, clinician=clinician), **fields)
    _refresh_outcomes(presentation.pk)
    return treatment


@transaction.atomic
def treatment_update(*, treatment: Treatment, **fields: Any) -> Treatment:
    """Record a response, an end date or corrected details (the ladder re-checks a changed kind or date)."""
    _keep_parent(fields, "presentation")
    presentation = _lock_presentation(treatment.presentation)
    if "clinician" in fields:
        _check_clinician(presentation, fields["clinician"], current=treatment.clinician_id)
    treatment = _validated_save(treatment, **fields)
    _refresh_outcomes(presentation.pk)
    return treatment


@transaction.atomic
def complication_record(*, treatment: Treatment, **fields: Any) -> Complication:
    _lock_presentation(treatment.presentation)
    return _validated_save(Complication(treatment=treatment), **fields)


@transaction.atomic
def complication_update(*, complication: Complication, **fields: Any) -> Complication:
    _keep_parent(fields, "treatment")
    _lock_presentation(complication.treatment.presentation)
    return _validated_save(complication, **fields)


@transaction.atomic
def clinical_record_delete(*, record: Patient | Presentation | Visit | Treatment | Complication) -> None:
    """Delete a clinical record (superusers only, in the admin; patients are normally archived instead).

    The audit event is written first, while the record and its path to the patient still exist; the change
    history keeps the deleted version.
    """
    presentation_id = getattr(record, "presentation_id", None)
    if presentation_id is not None:
        list(Presentation.objects.select_for_update(of=("self",)).filter(pk=presentation_id).values_list("pk"))
    audit_record(action=AuditAction.DELETE, record=record)
    record.delete()
    if presentation_id is not None:
        _refresh_outcomes(presentation_id)
