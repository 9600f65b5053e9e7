"""Sends the heavy reads — outcome reports and exports — to a read replica; everything else to the primary.

Enabled by ``DATABASE_REPLICA_URL`` (settings add the ``replica`` alias and this router). Code that
may read slightly stale data says so by running inside ``replica_reads()``: the outcome report and
the streamed exports do. Everything else, and every write, stays on ``default``, so a clinician
always reads their own writes. Without a replica configured the context changes nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

from django.conf import settings

REPLICA = "replica"
_replica_reads: contextvars.ContextVar[bool] = contextvars.ContextVar("replica_reads", default=False)


@contextlib.contextmanager
def replica_reads() -> Iterator[None]:
    """Reads inside this block may go to the replica (when one is configured): for reports and exports."""
    token = _replica_reads.set(True)
    try:
        yield
    finally:
        _replica_reads.reset(token)


def reads_from_replica() -> bool:
    return _replica_reads.get() and REPLICA in settings.DATABASES


class ReplicaRouter:
    """Reads inside ``replica_reads()`` go to the replica; writes and migrations only ever to the primary."""

    def db_for_read(self, model, **hints) -> str | None:
        return REPLICA if reads_from_replica() else None

    def db_for_write(self, model, **hints) -> str | None:
        return "default"

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True  # the replica holds the same rows as the primary

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints) -> bool:
        return db != REPLICA  # the replica follows the primary's schema by replication
