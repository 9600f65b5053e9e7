"""The follow-up status moves: each allowed one works, every other one is refused and changes nothing."""

import itertools

import pytest

from cases.followups.choices import FollowUpStatus as S
from cases.followups.transitions import FollowUpTransitionRefused, move, sources_of, status_by_date
from tests.followups.conftest import D

# The specification, written out: from each status, where it may go.
ALLOWED = {
    (S.SCHEDULED, S.SENT),
    (S.SCHEDULED, S.OVERDUE),
    (S.SCHEDULED, S.MISSED),
    (S.SCHEDULED, S.COMPLETED),
    (S.SCHEDULED, S.DECLINED),
    (S.SCHEDULED, S.CANCELLED),
    (S.SENT, S.SCHEDULED),  # re-dated by re-planning: asked afresh
    (S.SENT, S.OVERDUE),
    (S.SENT, S.MISSED),
    (S.SENT, S.COMPLETED),
    (S.SENT, S.DECLINED),
    (S.SENT, S.CANCELLED),
    (S.OVERDUE, S.SCHEDULED),
    (S.OVERDUE, S.MISSED),
    (S.OVERDUE, S.COMPLETED),
    (S.OVERDUE, S.DECLINED),
    (S.OVERDUE, S.CANCELLED),
    (S.MISSED, S.SCHEDULED),  # re-dated into a window that is open again
    (S.MISSED, S.CANCELLED),
}
PAIRS = [(a, b) for a, b in itertools.product(S.values, S.values) if a != b]


class Row:
    def __init__(self, status):
        self.status = status
        self.status_changed_at = None


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_an_allowed_move_sets_the_status_and_its_time(current, target):
    row = Row(current)
    move(row, target)
    assert row.status == target
    assert row.status_changed_at is not None


@pytest.mark.parametrize(("current", "target"), sorted(set(PAIRS) - ALLOWED))
def test_a_move_outside_the_table_is_refused_and_changes_nothing(current, target):
    row = Row(current)
    with pytest.raises(FollowUpTransitionRefused) as refused:
        move(row, target)
    assert row.status == current
    assert row.status_changed_at is None
    assert refused.value.message_dict == {"status": [f"A follow-up cannot move from '{current}' to '{target}'."]}


@pytest.mark.parametrize("final", [S.COMPLETED, S.DECLINED, S.CANCELLED])
def test_completed_declined_and_cancelled_are_final(final):
    for target in S.values:
        if target != final:
            with pytest.raises(FollowUpTransitionRefused):
                move(Row(final), target)


def test_a_bulk_move_takes_its_sources_from_the_same_table():
    assert sources_of(S.MISSED) == {S.SCHEDULED, S.SENT, S.OVERDUE}
    assert sources_of(S.OVERDUE) == {S.SCHEDULED, S.SENT}
    assert sources_of(S.SENT) == {S.SCHEDULED}


@pytest.mark.parametrize(
    ("today", "expected"),
    [(D(2026, 3, 1), S.SCHEDULED), (D(2026, 3, 2), S.OVERDUE), (D(2026, 3, 29), S.OVERDUE), (D(2026, 3, 30), S.MISSED)],
)
def test_overdue_after_the_due_date_and_missed_after_the_window_closes(today, expected):
    assert status_by_date(due_on=D(2026, 3, 1), window_closes_on=D(2026, 3, 29), today=today) == expected
