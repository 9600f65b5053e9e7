"""The sending scenario's memory verdict: the command's peak at the most rows due against the fewest."""

from bench.follow_ups import memory_verdict


def _run(due, peak_mb):
    return {"due": due, "peak_mb": peak_mb}


def test_a_peak_within_ten_percent_is_flat_whatever_the_order():
    assert memory_verdict([_run(100_000, 104.0), _run(10_000, 100.0)]) == (
        "flat (10,000 → 100,000 due: peak 100.0 → 104.0 MB, 1.04x)"
    )


def test_a_peak_that_grows_past_ten_percent_is_not_flat():
    assert memory_verdict([_run(2_000, 90.0), _run(20_000, 120.0)]).startswith("not flat (2,000 → 20,000 due")


def test_one_size_gives_no_verdict():
    assert memory_verdict([_run(20_000, 120.0)]) == "one size only: no verdict"
