"""CI's closing line: how many tests ran, counted from the JUnit reports the steps wrote, never typed in.

    totals.py [--status N] [--step "make test"] NAME=REPORT.xml ...

Prints one line per report (or "not run" when a step never wrote it), then, last, the one line a reader
looks for: ``ci: 5041 passed, 0 failed, 12 skipped``. A test case counts as failed when it holds a
<failure> or an <error>, as skipped when it holds only <skipped>, and as passed otherwise; pytest's and
schemathesis's reports are read the same way. Exits 1 when any test failed, a report is missing or
unreadable, or --status (the exit code the CI steps ended with) is not 0: a red step stays red.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from xml.etree import ElementTree


def count(report: Path) -> Counter:
    """Passed, failed and skipped test cases in one JUnit XML report."""
    # Our own steps wrote these reports moments ago, on this machine: not untrusted input.
    root = ElementTree.parse(report).getroot()  # noqa: S314
    outcomes: Counter = Counter()
    for case in root.iter("testcase"):
        kinds = {child.tag for child in case}
        if kinds & {"failure", "error"}:
            outcomes["failed"] += 1
        elif "skipped" in kinds:
            outcomes["skipped"] += 1
        else:
            outcomes["passed"] += 1
    return outcomes


def line(outcomes: Counter) -> str:
    text = f"{outcomes['passed']} passed, {outcomes['failed']} failed"
    return text + (f", {outcomes['skipped']} skipped" if outcomes["skipped"] else "")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--status", type=int, default=0, help="exit code the CI steps ended with")
    parser.add_argument("--step", default="", help="the step that ended them, when it failed")
    parser.add_argument("reports", nargs="+", metavar="NAME=REPORT", help="a name and a JUnit XML path")
    options = parser.parse_args(argv)

    total: Counter = Counter()
    complete = True
    for named in options.reports:
        name, separator, path = named.partition("=")
        if not separator or not name or not path:
            parser.error(f"a report is NAME=PATH, got {named!r}")
        report = Path(path)
        if not report.is_file():
            print(f"  {name}: not run (no {report})")
            complete = False
            continue
        try:
            outcomes = count(report)
        except ElementTree.ParseError as error:
            print(f"  {name}: unreadable report {report}: {error}")
            complete = False
            continue
        print(f"  {name}: {line(outcomes)}")
        total.update(outcomes)

    if options.status:
        print(f"ci: {options.step or 'a step'} failed (exit {options.status})")
    print(f"ci: {line(total)}")
    return 0 if options.status == 0 and complete and total["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
