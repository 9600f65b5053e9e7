"""The one sanctioned path for bulk-loading clinical rows (generators, imports).

History routing is coming: this first version inserts with the model's base manager; the change
history and audit events for bulk loads will be written here, so callers never change.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import models


def bulk_create_clinical(model: type[models.Model], objs: Sequence[models.Model], *, batch_size: int = 2000) -> list:
    """Insert ``objs`` of a clinical ``model`` in batches; on PostgreSQL their primary keys are set."""
    return model._base_manager.bulk_create(objs, batch_size=batch_size)
