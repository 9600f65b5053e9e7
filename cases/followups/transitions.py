"""The one table of allowed follow-up status moves, and the one function that applies them.

A follow-up starts ``scheduled``. Sending moves it to ``sent``; the clinic's today passing the due date
makes it ``overdue`` and passing the window's close makes it ``missed``; an answer makes it ``completed``,
a recorded refusal ``declined``; re-planning (a corrected treatment, a closed presentation) ``cancelled``.
Re-planning also re-dates an unanswered follow-up whose anchor moved, which puts it back to
``scheduled`` so it is asked in its new window. ``completed``, ``declined`` and ``cancelled`` are final:
nothing, not even re-planning, takes an answer back.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.utils import timezone

from .choices import FollowUpStatus as S

TRANSITIONS: dict[str, frozenset[str]] = {
    S.SCHEDULED: frozenset({S.SENT, S.OVERDUE, S.MISSED, S.COMPLETED, S.DECLINED, S.CANCELLED}),
    S.SENT: frozenset({S.SCHEDULED, S.OVERDUE, S.MISSED, S.COMPLETED, S.DECLINED, S.CANCELLED}),
    S.OVERDUE: frozenset({S.SCHEDULED, S.MISSED, S.COMPLETED, S.DECLINED, S.CANCELLED}),
    S.MISSED: frozenset({S.SCHEDULED, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.DECLINED: frozenset(),
    S.CANCELLED: frozenset(),
}
# Still waiting for the patient: these may be sent, answered, re-dated or cancelled.
OPEN_STATUSES = frozenset({S.SCHEDULED, S.SENT, S.OVERDUE})
# Never touched by re-planning.
ANSWERED_STATUSES = frozenset({S.COMPLETED, S.DECLINED})


class FollowUpTransitionRefused(ValidationError):
    """A status move the table does not allow; names both statuses."""

    def __init__(self, current: str, target: str):
        # The code on the field's own error: Django drops a code given beside a dict of messages.
        message = f"A follow-up cannot move from '{current}' to '{target}'."
        super().__init__({"status": ValidationError(message, code="follow_up_transition")})
        self.current, self.target = current, target


def can_move(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def sources_of(target: str) -> frozenset[str]:
    """Every status allowed to move to ``target`` (for a bulk move that must follow the table too)."""
    return frozenset(status for status, targets in TRANSITIONS.items() if target in targets)


def move(follow_up, target: str, *, at: datetime.datetime | None = None) -> None:
    """Set ``follow_up.status`` to ``target`` (unsaved), or raise ``FollowUpTransitionRefused``."""
    if follow_up.status == target:
        return
    if not can_move(follow_up.status, target):
        raise FollowUpTransitionRefused(follow_up.status, target)
    follow_up.status = target
    follow_up.status_changed_at = at or timezone.now()


def status_by_date(*, due_on: datetime.date, window_closes_on: datetime.date, today: datetime.date) -> str:
    """The status an unanswered, unsent follow-up has on ``today`` by its dates alone."""
    if today > window_closes_on:
        return S.MISSED
    if today > due_on:
        return S.OVERDUE
    return S.SCHEDULED
