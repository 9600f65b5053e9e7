"""The one sanctioned bulk path for clinical records: loads that still write change history and audit events.

``QuerySet.bulk_create()`` on a clinical model is refused (``cases.audit.history``), because it skips the
model signals that keep history. Bulk loaders (the demo network generator, imports) call
``bulk_create_clinical`` instead: it inserts each batch, writes the batch's historical rows
(``simple_history.utils.bulk_create_with_history``) and one ``create`` audit event per batch and
clinic holding the batch's patient ids — all in one transaction. On PostgreSQL each batch and its
historical rows go in through ``COPY … FROM STDIN`` instead (primary keys drawn from the table's
sequence first; the same columns and values ``bulk_create_with_history`` writes, without a historical
model instance or SQL text per row) and the audit events take patients and clinics from the parents the
rows already hold: that took the 200,000-presentation network load from 477 s to 150 s
(docs/benchmarks.md). Like any bulk insert it skips
``full_clean()``: the database constraints still refuse a bad row, but the ladder and the
"not in the future" rules are the caller's job (build rows with the services' rules in mind).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, get_change_reason_from_object, get_history_manager_for_model

from .audit import AuditAction, audit_record, current_actor_label, current_user, sanctioned_bulk_create

DEFAULT_BATCH_SIZE = 2000

# Field types whose Python value is already what the database stores, so COPY can send it unprepared.
_STORED_AS_IS = (
    models.AutoField,
    models.BigAutoField,
    models.BigIntegerField,
    models.BooleanField,
    models.CharField,
    models.DateField,
    models.ForeignKey,
    models.IntegerField,
    models.PositiveSmallIntegerField,
    models.SmallIntegerField,
    models.TextField,
)


# ``pre_save`` that only reads the attribute (``DateField``'s unless ``auto_now`` / ``auto_now_add``).
_PLAIN_PRE_SAVE = (models.Field.pre_save, models.DateField.pre_save, models.DateTimeField.pre_save)


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
    copy = connection.vendor == "postgresql"
    with transaction.atomic(), sanctioned_bulk_create():
        for start in range(0, len(rows), batch_size):
            if copy:
                batch = _copy_with_history(model, rows[start : start + batch_size], user)
            else:
                batch = bulk_create_with_history(
                    rows[start : start + batch_size],
                    model,
                    batch_size=batch_size,
                    default_user=user,
                    custom_historical_attrs={"history_actor": current_actor_label()},
                )
            created.extend(batch)
            _audit_batch(model, batch)
    return created


def _copy_with_history(model: type[models.Model], batch: list[models.Model], user) -> list[models.Model]:
    """Insert ``batch`` and its '+' historical rows (as ``bulk_history_create`` builds them) with two COPYs.

    The primary keys are drawn from the table's sequence first, so the rows carry them as ``bulk_create``
    would return them; the same prepared values then fill both the record and its historical row.
    """
    if not batch:
        return batch
    fields = get_history_manager_for_model(model).model.tracked_fields
    # As ``bulk_create`` does, each value is what the field's ``pre_save`` gives (a timestamp, sorted codes),
    # but only fields that change it are asked; the stamped ones then hold an aware ``timezone.now()``.
    stamped = [field for field in fields if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)]
    plan = [
        (
            field.attname,
            field if field in stamped or type(field).pre_save not in _PLAIN_PRE_SAVE else None,
            None if type(field) in _STORED_AS_IS or field in stamped else field,
        )
        for field in fields
    ]
    database = connections[DEFAULT_DB_ALIAS]  # not the proxy: it is read for every value
    pk_attname = model._meta.pk.attname
    table = model._meta.db_table
    history_table = get_history_manager_for_model(model).model._meta.db_table
    quote = database.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    history_columns = columns + ", history_date, history_change_reason, history_type, history_user_id, history_actor"
    user_id = user.pk if user is not None else None
    actor = current_actor_label()
    with database.wrap_database_errors, database.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, model._meta.pk.column, len(batch)],
        )
        records = []
        for row, (pk,) in zip(batch, cursor.fetchall(), strict=True):
            row._prepare_related_fields_for_save(operation_name="bulk_create")
            if getattr(row, pk_attname) is None:  # a key the caller chose is kept, as bulk_create keeps it
                setattr(row, pk_attname, pk)
            values = []
            for attname, pre_saving, preparing in plan:
                value = getattr(row, attname) if pre_saving is None else pre_saving.pre_save(row, add=True)
                values.append(value if preparing is None else preparing.get_db_prep_save(value, database))
            records.append(values)
            row._state.adding, row._state.db = False, database.alias
        history_date = timezone.now()  # after the rows' own timestamps, as a save's history would be
        with cursor.cursor.copy(f"COPY {quote(table)} ({columns}) FROM STDIN") as copy:
            for values in records:
                copy.write_row(values)
        with cursor.cursor.copy(f"COPY {quote(history_table)} ({history_columns}) FROM STDIN") as copy:
            for row, values in zip(batch, records, strict=True):
                copy.write_row([*values, history_date, get_change_reason_from_object(row), "+", user_id, actor])
    return batch


def _audit_batch(model: type[models.Model], batch: list[models.Model]) -> None:
    owners = _owners_in_memory(model, batch)
    if owners is None:
        # One query for the batch's patients and clinics, rather than walking each row's parents.
        owners = {
            pk: (patient_id, clinic_id)
            for pk, patient_id, clinic_id in model._default_manager.filter(
                pk__in=[row.pk for row in batch]
            ).values_list("pk", _patient_path(model), model.CLINIC_PATH)
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


def _owners_in_memory(model: type[models.Model], batch: list[models.Model]) -> dict[int, tuple[int, int]] | None:
    """Each row's (patient id, clinic id) from the parents the rows already hold, or None if one is not loaded."""
    *hops, clinic = model.CLINIC_PATH.split("__")
    owners = {}
    for row in batch:
        patient = row
        for hop in hops:
            if not patient._meta.get_field(hop).is_cached(patient):
                return None
            patient = getattr(patient, hop)
        owners[row.pk] = (patient.pk, getattr(patient, patient._meta.get_field(clinic).attname))
    return owners
