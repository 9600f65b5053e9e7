"""Every write to the case record goes through these functions.

Each one runs in a transaction, locks the presentation it changes (so two clinicians recording
injections at once cannot both slip under the yearly limit), validates with the model's
``full_clean()`` — which applies the field ranges, the cross-field rules and the treatment
ladder — and only then saves. A ``ValidationError`` leaves the database untouched.

Each also records its audit event (``cases.audit``) in the same transaction: a committed change always
has one, a refused change never does. The change history (``cases.history``) follows ``save()``.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from .audit import audit_record
from .audit_event import AuditAction
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
    return _validated_save(Visit(presentation=presentation, clinician=clinician), **fields)


@transaction.atomic
def visit_update(*, visit: Visit, **fields: Any) -> Visit:
    _keep_parent(fields, "presentation")
    _lock_presentation(visit.presentation)
    return _validated_save(visit, **fields)


@transaction.atomic
def treatment_start(*, presentation: Presentation, kind: str, clinician, **fields: Any) -> Treatment:
    """Start a treatment; the ladder rules are checked against the presentation's locked history."""
    presentation = _lock_presentation(presentation)
    return _validated_save(Treatment(presentation=presentation, kind=kind, clinician=clinician), **fields)


@transaction.atomic
def treatment_update(*, treatment: Treatment, **fields: Any) -> Treatment:
    """Record a response, an end date or corrected details (the ladder re-checks a changed kind or date)."""
    _keep_parent(fields, "presentation")
    _lock_presentation(treatment.presentation)
    return _validated_save(treatment, **fields)


@transaction.atomic
def complication_record(*, treatment: Treatment, **fields: Any) -> Complication:
    _lock_presentation(treatment.presentation)
    return _validated_save(Complication(treatment=treatment), **fields)


@transaction.atomic
def complication_update(*, complication: Complication, **fields: Any) -> Complication:
    _keep_parent(fields, "treatment")
    _lock_presentation(complication.treatment.presentation)
    return _validated_save(complication, **fields)
