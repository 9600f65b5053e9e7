"""The one sanctioned bulk path for clinical records: loads that still write change history and audit events.

``QuerySet.bulk_create()`` on a clinical model is refused (``cases.history``), because it skips the
model signals that keep history. Bulk loaders (the demo network generator, imports) call
``bulk_create_clinical`` instead: it inserts each batch, writes the batch's historical rows
(``simple_history.utils.bulk_create_with_history``) and one ``create`` audit event per batch and
clinic holding the batch's patient ids — all in one transaction. Like any bulk insert it skips
``full_clean()``: the database constraints still refuse a bad row, but the ladder and the
"not in the future" rules are the caller's job (build rows with the services' rules in mind).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db import models, transaction
from simple_history.utils import bulk_create_with_history

from .audit import audit_record, current_user
from .audit_event import AuditAction
from .history import sanctioned_bulk_create

DEFAULT_BATCH_SIZE = 2000


def _patient_path(model: type[models.Model]) -> str:
    *hops, _clinic = model.CLINIC_PATH.split("__")
    return "__".join(hops) + "_id" if hops else "pk"


def bulk_create_clinical(
    model: type[models.Model], objs: Iterable[models.Model], *, batch_size: int = DEFAULT_BATCH_SIZE
) -> list[models.Model]:
    """Insert ``objs`` of a clinical ``model`` in batches, with their history rows and audit events.

    Returns the saved rows, with primary keys (on SQLite and PostgreSQL alike). The history rows name the
    acting user (``cases.audit``: the request's user, or whoever a command runs ``acting`` as).
    """
    rows = list(objs)
    batch_size = batch_size or len(rows) or 1
    created: list[models.Model] = []
    user = current_user()
    with transaction.atomic(), sanctioned_bulk_create():
        for start in range(0, len(rows), batch_size):
            batch = bulk_create_with_history(
                rows[start : start + batch_size], model, batch_size=batch_size, default_user=user
            )
            created.extend(batch)
            _audit_batch(model, batch)
    return created


def _audit_batch(model: type[models.Model], batch: list[models.Model]) -> None:
    # One query for the batch's patients and clinics, rather than walking each row's parents.
    owners = {
        pk: (patient_id, clinic_id)
        for pk, patient_id, clinic_id in model._default_manager.filter(pk__in=[row.pk for row in batch]).values_list(
            "pk", _patient_path(model), model.CLINIC_PATH
        )
    }
    patients_by_clinic: dict[int, list[int]] = defaultdict(list)
    for row in batch:  # in the caller's order, so the event lists patients as they were given
        patient_id, clinic_id = owners[row.pk]
        if patient_id not in patients_by_clinic[clinic_id]:
            patients_by_clinic[clinic_id].append(patient_id)
    for clinic_id, patient_ids in patients_by_clinic.items():
        audit_record(
            action=AuditAction.CREATE,
            object_type=model._meta.label_lower,
            patient_ids=patient_ids,
            clinic_id=clinic_id,
        )
