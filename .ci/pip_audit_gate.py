"""Judge a pip-audit JSON report: vulnerabilities fail; an unreachable advisory service is said loudly.

pip-audit marks a dependency it could not look up as skipped. When every dependency is skipped, the
advisory service was not reachable from this machine (CI here reaches only the package index, whose
advisory lookups it does not serve): nothing was audited, and the gate prints that in capitals rather
than failing every CI run on a network limit. Set AUDIT_REQUIRED=1 where the service is reachable to
make that a failure too. Some dependencies skipped and others audited is a failure: it is not a
network outage but packages the service does not know.
"""

import json
import os
import sys


def main(report_path: str) -> int:
    with open(report_path) as report_file:
        report = json.load(report_file)
    dependencies = report.get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    audited = len(dependencies) - len(skipped)

    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            print(
                f"VULNERABLE {dependency['name']} {dependency['version']}: {vuln['id']}",
                f"(fix: {vuln.get('fix_versions')})",
            )
    if vulnerable:
        return 1
    if dependencies and audited == 0:
        print(
            f"NOT AUDITED: the vulnerability service was unreachable for all {len(dependencies)} dependencies "
            f"(first reason: {skipped[0]['skip_reason']!r}). No finding was possible from this machine."
        )
        return 1 if os.environ.get("AUDIT_REQUIRED") == "1" else 0
    if skipped:
        for dependency in skipped:
            print(f"SKIPPED {dependency['name']}: {dependency['skip_reason']}")
        return 1
    print(f"pip-audit: {audited} dependencies audited, no known vulnerabilities.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
