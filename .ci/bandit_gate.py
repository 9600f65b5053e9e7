"""Fail CI on any bandit finding that is not waived, with a reason, in .ci/bandit-waivers.txt."""

import json
import sys
from pathlib import Path


def load_waivers(path: Path) -> list[tuple[str, str, str]]:
    waivers = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [field.strip() for field in line.split(" | ")]
        if len(fields) != 4 or not all(fields):
            sys.exit(f"{path}:{number}: a waiver needs path | test id | flagged text | reason")
        waivers.append(tuple(fields[:3]))
    return waivers


def main(report_path: str, waivers_path: str) -> int:
    report = json.loads(Path(report_path).read_text())
    if report.get("errors"):
        print("bandit could not scan:", *report["errors"], sep="\n  ")
        return 1
    waivers = load_waivers(Path(waivers_path))
    unwaived = []
    for finding in report["results"]:
        flagged = finding["code"]
        if not any(
            finding["filename"] == path and finding["test_id"] == test_id and text in flagged
            for path, test_id, text in waivers
        ):
            unwaived.append(finding)
    for finding in unwaived:
        print(
            f"{finding['filename']}:{finding['line_number']}: {finding['test_id']} "
            f"{finding['issue_severity']}: {finding['issue_text']}"
        )
    scanned = report["metrics"]["_totals"]["loc"]
    print(f"bandit: {len(report['results'])} finding(s) in {scanned} lines, {len(unwaived)} not waived")
    return 1 if unwaived else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
