"""CI's closing totals line (.ci/totals.py), read from JUnit reports, and .ci/run printing it however it ends.

.ci/run is run for real from a copy in a temporary directory, with stand-ins for make, pg_isready and
redis-cli on PATH that write sample reports, so what it prints and how it exits are checked without
running CI inside the suite (and without touching this checkout's var/).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TOTALS = REPO / ".ci" / "totals.py"
TIMEOUT_SECONDS = 60

# As pytest writes it: the suite's counts on <testsuite>, and one <testcase> per test.
PYTEST_REPORT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests"><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="5">
<testcase classname="tests.test_a" name="test_one" time="0.1"/>
<testcase classname="tests.test_a" name="test_two" time="0.1"/>
<testcase classname="tests.test_a" name="test_three" time="0.1">
  <failure message="assert 1 == 2">...</failure></testcase>
<testcase classname="tests.test_b" name="test_four" time="0.1"><error message="fixture failed">...</error></testcase>
<testcase classname="tests.test_b" name="test_five" time="0.0">
  <skipped type="pytest.skip" message="needs PostgreSQL"/></testcase>
</testsuite></testsuites>
"""
# As schemathesis writes it: one <testcase> per API operation; a case may hold a failure and a skip note.
FUZZ_REPORT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites errors="0" failures="1" skipped="1" tests="3" time="1.0">
  <testsuite name="schemathesis" errors="0" failures="1" skipped="1" tests="3" time="1.0">
    <testcase name="GET /api/v1/patients/" time="0.5"/>
    <testcase name="POST /api/v1/visits/" time="0.5"><failure type="failure" message="server_error">500</failure>
      <skipped type="skipped">also skipped</skipped></testcase>
    <testcase name="DELETE /api/v1/tokens/{id}/" time="0.0"><skipped type="skipped">no examples</skipped></testcase>
  </testsuite>
</testsuites>
"""


def passing(count: int, *, skipped: int = 0) -> str:
    cases = "".join(f'<testcase classname="t" name="test_{n}"/>' for n in range(count))
    cases += "".join(f'<testcase name="skip_{n}"><skipped message="s"/></testcase>' for n in range(skipped))
    return f'<?xml version="1.0"?><testsuites><testsuite name="pytest">{cases}</testsuite></testsuites>'


def totals(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 (our own script)
        [sys.executable, str(TOTALS), *args], capture_output=True, text=True, timeout=TIMEOUT_SECONDS
    )


def test_totals_count_pytest_and_schemathesis_reports_alike_and_fail_on_a_failed_test(tmp_path):
    (tmp_path / "suite.xml").write_text(PYTEST_REPORT)
    (tmp_path / "fuzz.xml").write_text(FUZZ_REPORT)

    result = totals(f"sqlite={tmp_path / 'suite.xml'}", f"fuzz={tmp_path / 'fuzz.xml'}")

    assert result.stdout.splitlines() == [
        "  sqlite: 2 passed, 2 failed, 1 skipped",
        "  fuzz: 1 passed, 1 failed, 1 skipped",
        "ci: 3 passed, 3 failed, 2 skipped",
    ]
    assert result.returncode == 1


def test_totals_of_a_green_run_exit_zero_and_leave_out_skipped_when_there_are_none(tmp_path):
    (tmp_path / "a.xml").write_text(passing(40))
    (tmp_path / "b.xml").write_text(passing(2))

    result = totals(f"sqlite={tmp_path / 'a.xml'}", f"fuzz={tmp_path / 'b.xml'}")

    assert result.stdout.splitlines()[-1] == "ci: 42 passed, 0 failed"
    assert result.returncode == 0


def test_a_missing_report_is_not_run_and_fails_even_when_the_steps_passed(tmp_path):
    (tmp_path / "a.xml").write_text(passing(3))

    result = totals(f"sqlite={tmp_path / 'a.xml'}", f"postgres={tmp_path / 'missing.xml'}")

    assert result.stdout.splitlines() == [
        "  sqlite: 3 passed, 0 failed",
        f"  postgres: not run (no {tmp_path / 'missing.xml'})",
        "ci: 3 passed, 0 failed",
    ]
    assert result.returncode == 1


def test_a_failed_step_is_named_before_the_totals_and_fails_the_run(tmp_path):
    (tmp_path / "a.xml").write_text(passing(3))

    result = totals("--status", "2", "--step", "make lint", f"sqlite={tmp_path / 'a.xml'}")

    assert result.stdout.splitlines()[-2:] == ["ci: make lint failed (exit 2)", "ci: 3 passed, 0 failed"]
    assert result.returncode == 1


def test_an_unreadable_report_is_said_and_fails(tmp_path):
    (tmp_path / "cut.xml").write_text(PYTEST_REPORT[:200])

    result = totals(f"sqlite={tmp_path / 'cut.xml'}")

    assert result.stdout.splitlines()[0].startswith(f"  sqlite: unreadable report {tmp_path / 'cut.xml'}: ")
    assert result.stdout.splitlines()[-1] == "ci: 0 passed, 0 failed"
    assert result.returncode == 1


# .ci/run itself

FAKE_MAKE = """\
#!/usr/bin/env bash
# Stands in for make: records the step, writes the report that step would write, exits as told.
echo "$1" >> "$CI_STEPS_LOG"
case $1 in
  test) mkdir -p var; cp "$CI_SAMPLES/sqlite.xml" var/junit-sqlite.xml
        [[ ${FAIL_STEP:-} == test ]] && exit 2
        cp "$CI_SAMPLES/postgres.xml" var/junit-postgres.xml ;;
  fuzz) mkdir -p "$FUZZ_REPORT_DIR"; cp "$CI_SAMPLES/fuzz.xml" "$FUZZ_REPORT_DIR/junit.xml" ;;
esac
[[ ${FAIL_STEP:-} == "$1" ]] && exit 2
exit 0
"""


@pytest.fixture
def ci(tmp_path):
    """Run a copy of .ci/run with stand-in tools; returns a function giving (exit code, output lines, steps)."""
    checkout = tmp_path / "checkout"
    (checkout / ".ci").mkdir(parents=True)
    for name in ("run", "totals.py"):
        shutil.copy2(REPO / ".ci" / name, checkout / ".ci" / name)
    tools = tmp_path / "bin"
    tools.mkdir()
    stand_ins = {"make": FAKE_MAKE, "pg_isready": "#!/bin/sh\nexit 0\n", "redis-cli": "#!/bin/sh\necho PONG\n"}
    for name, script in stand_ins.items():
        (tools / name).write_text(script)
        (tools / name).chmod(0o755)
    (tools / "python3").symlink_to(sys.executable)  # no .venv in the copy: .ci/run falls back to python3
    samples = tmp_path / "samples"
    samples.mkdir()
    (samples / "sqlite.xml").write_text(passing(5, skipped=1))
    (samples / "postgres.xml").write_text(passing(6))
    (samples / "fuzz.xml").write_text(passing(2))
    # A report from an earlier run, which this run must not count.
    (checkout / "var" / "fuzz-report").mkdir(parents=True)
    (checkout / "var" / "fuzz-report" / "junit.xml").write_text(passing(1000))

    def run(fail_step: str = ""):
        steps = tmp_path / "steps.log"
        steps.write_text("")
        env = {key: value for key, value in os.environ.items() if not key.startswith("FUZZ_")}
        env.update(PATH=f"{tools}:{env['PATH']}", CI_STEPS_LOG=str(steps), CI_SAMPLES=str(samples))
        env["FAIL_STEP"] = fail_step
        result = subprocess.run(  # noqa: S603
            [shutil.which("bash"), str(checkout / ".ci" / "run")],
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
        )
        return result.returncode, result.stdout.splitlines(), steps.read_text().split()

    return run


def test_ci_run_ends_with_the_totals_of_every_report(ci):
    status, lines, steps = ci()

    assert steps == ["lint", "bandit", "deploy-check", "test", "fuzz", "audit"]
    assert lines[-4:] == [
        "  sqlite: 5 passed, 0 failed, 1 skipped",
        "  postgres: 6 passed, 0 failed",
        "  fuzz: 2 passed, 0 failed",
        "ci: 13 passed, 0 failed, 1 skipped",
    ]
    assert status == 0


def test_ci_run_stops_at_a_failing_step_still_prints_the_totals_and_keeps_its_exit_code(ci):
    status, lines, steps = ci(fail_step="test")

    assert steps == ["lint", "bandit", "deploy-check", "test"]
    assert lines[-5:] == [
        "  sqlite: 5 passed, 0 failed, 1 skipped",
        "  postgres: not run (no var/junit-postgres.xml)",
        "  fuzz: not run (no var/fuzz-report/junit.xml)",
        "ci: make test failed (exit 2)",
        "ci: 5 passed, 0 failed, 1 skipped",
    ]
    assert status == 2


def test_ci_run_that_fails_before_any_test_says_none_ran(ci):
    status, lines, steps = ci(fail_step="lint")

    assert steps == ["lint"]
    assert lines[-2:] == ["ci: make lint failed (exit 2)", "ci: 0 passed, 0 failed"]
    assert status == 2


def test_ci_run_fails_when_a_step_passes_without_writing_its_report(ci, tmp_path):
    (tmp_path / "bin" / "make").write_text(FAKE_MAKE.replace('cp "$CI_SAMPLES/fuzz.xml"', "true"))

    status, lines, _ = ci()

    assert "  fuzz: not run (no var/fuzz-report/junit.xml)" in lines
    assert lines[-1] == "ci: 11 passed, 0 failed, 1 skipped"
    assert status == 1
