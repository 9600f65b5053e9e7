"""The audit trail and the change history: who saw or changed which patient's record, and every saved version.

The one public entry of the group; the modules behind it:

- ``context`` — who is acting (the request being served, or a command's ``acting(...)`` block);
- ``models`` — ``AuditEvent``, the append-only row, with its action and door (``via``) value sets;
- ``trail`` — ``audit_record``, which writes one event, and the sign-in receivers;
- ``history`` — the change history of the clinical models (django-simple-history) and the guard that
  refuses bulk writes which would skip it.

Nothing in the group imports ``cases.models``, which imports ``history``: the dependency runs one way.
"""

from .context import AuditContextMiddleware, acting, current_actor_label, current_user
from .history import RecordedWritesQuerySet, UnrecordedWriteRefused, sanctioned_bulk_create, track_history
from .models import AuditAction, AuditEvent, AuditTrailIsAppendOnly, AuditVia
from .trail import audit_record

__all__ = [
    "AuditAction",
    "AuditContextMiddleware",
    "AuditEvent",
    "AuditTrailIsAppendOnly",
    "AuditVia",
    "RecordedWritesQuerySet",
    "UnrecordedWriteRefused",
    "acting",
    "audit_record",
    "current_actor_label",
    "current_user",
    "sanctioned_bulk_create",
    "track_history",
]
