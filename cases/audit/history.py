"""Change history of the clinical record: every saved version kept, and bulk writes that would skip it refused.

django-simple-history stores a historical row (every field, who, when, created/changed/deleted) on each
``save()`` and ``delete()`` of a tracked model, through Django's model signals; its admin history page
shows which fields changed, old → new. ``QuerySet.update()``, ``bulk_create()`` and ``bulk_update()``
send no signals, so on clinical models they would change the record with neither history nor audit
event: ``RecordedWritesQuerySet`` refuses them and names the sanctioned path instead —
``cases.services`` for changes, ``cases.bulk.bulk_create_clinical`` for bulk loads (which writes the
history rows and the audit events itself).

It imports nothing from ``cases`` outside this package: ``cases.models`` imports it.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

from django.db import models
from django.dispatch import receiver
from simple_history import register
from simple_history.signals import pre_create_historical_record

from .context import current_actor_label, current_user

_bulk_create_sanctioned: contextvars.ContextVar[bool] = contextvars.ContextVar("bulk_create_sanctioned", default=False)


class UnrecordedWriteRefused(Exception):
    """A bulk write on a clinical model that would bypass change history and the audit trail."""


@contextlib.contextmanager
def sanctioned_bulk_create() -> Iterator[None]:
    """Let ``bulk_create`` through, for ``cases.bulk`` only, which records history and audit events itself."""
    token = _bulk_create_sanctioned.set(True)
    try:
        yield
    finally:
        _bulk_create_sanctioned.reset(token)


class RecordedWritesQuerySet(models.QuerySet):
    """Refuses the write paths that skip ``save()``, so no clinical change escapes history and audit."""

    def update(self, **kwargs):
        raise UnrecordedWriteRefused(
            f"{self.model.__name__}: QuerySet.update() would change clinical records without change history "
            "or an audit event. Change each record through cases.services (e.g. patient_update, treatment_update)."
        )

    def bulk_update(self, objs, fields, batch_size=None):
        raise UnrecordedWriteRefused(
            f"{self.model.__name__}: bulk_update() would change clinical records without change history "
            "or an audit event. Change each record through cases.services."
        )

    def bulk_create(self, objs, *args, **kwargs):
        if not _bulk_create_sanctioned.get():
            raise UnrecordedWriteRefused(
                f"{self.model.__name__}: bulk_create() would load clinical records without change history or an "
                "audit event. Use cases.bulk.bulk_create_clinical(model, objs, batch_size=...)."
            )
        return super().bulk_create(objs, *args, **kwargs)


def _history_user(instance=None, request=None, **kwargs):
    # The same actor the audit trail records, whether the change came through the admin, the API
    # (authenticated inside the view, after any middleware) or a management command.
    return current_user()


class HistoryActor(models.Model):
    """Names who made a change whatever the door: a user's username, or the command or process (``acting``).

    ``history_user`` is a user or nothing; a command run by no user (``seed_demo``) left the admin's history
    page saying "Changed by None". The label is what the audit trail's ``actor_label`` records for the same write.
    """

    history_actor = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        abstract = True


@receiver(pre_create_historical_record, dispatch_uid="history-actor")
def _name_the_actor(sender, history_instance, **kwargs) -> None:
    if hasattr(history_instance, "history_actor") and not history_instance.history_actor:
        history_instance.history_actor = current_actor_label()


def track_history(*tracked: type[models.Model]) -> None:
    """Give each model a ``history`` manager and a ``Historical<Model>`` table in the ``cases`` app."""
    for model in tracked:
        register(model, app="cases", get_user=_history_user, bases=[HistoryActor])
