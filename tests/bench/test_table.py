"""The results table's notes on the workspace and sending scenarios: what each figure rests on, said plainly."""

from bench.table import _sending, _workspace


def _fixtures(cases):
    return {
        "summary_user": "network-1-podiatrist-1",
        "worklist_user": "network-3-podiatrist-2",
        "worklist_cases": cases,
        "worklist_listed": {"lost": 40, "no_response": 3, "due": 12, "overdue_follow_up": 0},
        "time_point_follow_ups": 1_234,
    }


def test_a_worklist_below_ten_thousand_cases_says_it_was_measured_smaller():
    text = "\n".join(_workspace(_fixtures(1_012)))
    assert "the podiatrist with the most active cases: 1,012" in text
    assert "no podiatrist with 10,000 cases" in text
    assert "lost 40, no_response 3, due 12, overdue_follow_up 0" in text
    assert "1,234 6- and 12-month follow-ups" in text


def test_a_worklist_of_ten_thousand_cases_carries_no_shortfall_note():
    assert "no podiatrist" not in "\n".join(_workspace(_fixtures(10_000)))


def test_without_the_workspace_scenarios_there_is_no_note():
    assert _workspace({"timeline_visits": 100}) == []


def test_the_sending_table_has_a_row_per_run_and_the_queries_per_batch():
    run = {"due": 10_000, "batch_size": 500, "seconds": 20.0, "rows_per_s": 500.0, "peak_mb": 101.5}
    sending = {
        "requested": 20_000,
        "runs": [{**run, "follow_ups_with_a_message": 10_000, "sent": 10_000}],
        "queries_per_batch": [
            {"batch_size": 50, "rows": 400, "batches": 8, "per_batch": 11.0},
            {"batch_size": 200, "rows": 400, "batches": 2, "per_batch": 11.0},
        ],
        "memory": "one size only: no verdict",
    }
    lines = _sending(sending)
    assert "| 10,000 due | 10,000 | 500 | 20.0 | 500 | 101.5 | 10,000 | 10,000 |" in lines
    text = "\n".join(lines)
    assert "11 at a batch size of 50 (400 rows, 8 batches), 11 at a batch size of 200" in text
    assert "Only 10,000 of the 20,000 asked for could be due." in text
