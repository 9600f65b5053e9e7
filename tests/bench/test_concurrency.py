"""The concurrency scenario's verdict: errors, lost or duplicated writes and deadlocks are each named."""

import pytest

from bench.concurrency import findings


def _role(requests=100, errors=0, created=0, ids=None, replayed=0):
    return {
        "requests": requests,
        "errors": errors,
        "non_2xx": errors,
        "socket_errors": 0,
        "created": created,
        "created_ids": list(range(1, created + 1)) if ids is None else ids,
        "replayed": replayed,
    }


def _state(visits, deadlocks=0, server_201s=0, distinct=None, found=0):
    return {
        "visits": visits,
        "deadlocks": deadlocks,
        "keys": server_201s,
        "server_201s": server_201s,
        "distinct_keyed_visits": server_201s if distinct is None else distinct,
        "answered_found": found,
    }


@pytest.fixture
def before():
    return _state(visits=1000)


def test_every_201_found_and_counted_is_clean(before):
    after = _state(visits=1100, server_201s=100, found=100)
    assert findings(_role(created=100), _role(), before, after, connections=8) == []


def test_writes_answered_after_wrk_stopped_are_not_lost(before):
    after = _state(visits=1108, server_201s=108, found=100)
    assert findings(_role(created=100), _role(), before, after, connections=8) == []


def test_an_answered_visit_missing_from_the_database_is_a_lost_write(before):
    after = _state(visits=1099, server_201s=99, found=99)
    problems = findings(_role(created=100), _role(), before, after, connections=8)
    assert any(problem.startswith("lost writes: 1 ") for problem in problems)


def test_more_visits_than_201s_sent_is_reported(before):
    after = _state(visits=1101, server_201s=100, found=100)
    problems = findings(_role(created=100), _role(), before, after, connections=8)
    assert problems == ["the database gained 101 visits for 100 201s the server sent"]


def test_one_visit_under_two_keys_is_a_duplicated_write(before):
    after = _state(visits=1099, server_201s=100, distinct=99, found=99)
    answered = [*range(1, 100), 99]
    problems = findings(_role(created=100, ids=answered), _role(), before, after, connections=8)
    assert any(problem.startswith("duplicated writes: 1 ") for problem in problems)
    assert any(problem.startswith("duplicated answers: 1 ") for problem in problems)


def test_more_late_answers_than_connections_cannot_be_explained_by_the_stop(before):
    after = _state(visits=1120, server_201s=120, found=100)
    problems = findings(_role(created=100), _role(), before, after, connections=8)
    assert len(problems) == 1
    assert "in flight" in problems[0]


def test_errors_of_either_role_are_counted(before):
    after = _state(visits=1100, server_201s=100, found=100)
    problems = findings(_role(created=100, errors=3), _role(errors=2), before, after, connections=8)
    assert problems == [
        "writers: 3 of 100 requests failed (3 non-2xx answers, 0 socket errors)",
        "readers: 2 of 100 requests failed (2 non-2xx answers, 0 socket errors)",
    ]


def test_a_deadlock_during_the_run_is_reported(before):
    after = _state(visits=1100, deadlocks=1, server_201s=100, found=100)
    problems = findings(_role(created=100), _role(), before, after, connections=8)
    assert problems == ["1 deadlocks in pg_stat_database during the run"]


def test_a_replay_with_fresh_keys_is_reported(before):
    after = _state(visits=1100, server_201s=100, found=100)
    problems = findings(_role(created=100, replayed=1), _role(), before, after, connections=8)
    assert problems == ["1 answers were replays although every key was new"]
