"""`make bench` refuses to start on a busy machine: load average above the core count."""

from bench.guard import busy_note, busy_refusal


def test_load_above_the_core_count_is_refused_naming_load_and_cores():
    refusal = busy_refusal(2.84, 2)
    assert refusal is not None
    assert "2.84" in refusal
    assert "2 cores" in refusal
    assert "--force" in refusal


def test_load_equal_to_the_core_count_may_run():
    assert busy_refusal(2.0, 2) is None


def test_load_below_the_core_count_may_run():
    assert busy_refusal(0.3, 2) is None


def test_more_cores_take_more_load():
    assert busy_refusal(3.5, 4) is None
    assert busy_refusal(3.5, 2) is not None


def test_an_unknown_core_count_counts_as_one_core():
    assert busy_refusal(0.9, None) is None
    assert busy_refusal(1.2, None) is not None


def test_a_forced_run_says_how_busy_the_machine_was():
    assert busy_note(3.456) == "measured on a busy machine (load 3.46)"
