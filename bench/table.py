"""Writes a benchmark run as ``<output>.json`` (every figure) and ``<output>.md`` (the table the docs quote)."""

from __future__ import annotations

import json
from pathlib import Path

WORKLIST_TARGET = 10_000  # issue 11: a worklist of a podiatrist with 10,000 cases


def _ratio(value: float, reference: float) -> str:
    return f"{value / reference:.2f}x" if reference else "—"


def _generated(generator: dict | None) -> str:
    if not generator:
        return "."
    load = ", ".join(f"{x:.2f}" for x in generator["load_average_before"])
    return f"; generator: {generator['seconds']} s (load average before it {load})."


def markdown(results: dict) -> str:
    runs = {run["name"]: run for run in results["runs"]}
    floor, naive = runs["presentations list (floor)"], runs["presentations list (naive)"]
    machine, counts = results["machine"], results["dataset"]
    lines = [
        f"# Benchmark run {results['when']}",
        "",
        *(
            [f"**Warning: {results['busy']}** — the figures below share the cores with other work.", ""]
            if results.get("busy")
            else []
        ),
        # Anything measured apart from the run itself (a re-measure), said at the top.
        *[f"Note: {note}" for note in results.get("notes", [])],
        *([""] if results.get("notes") else []),
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']} GB; PostgreSQL "
        f"{machine['postgresql']}, Python {machine['python']}. Load average before "
        f"{', '.join(f'{x:.2f}' for x in results['load_average_before'])}, after "
        f"{', '.join(f'{x:.2f}' for x in results['load_average_after'])}.",
        f"Server: gunicorn, {results['settings']['workers']} workers x {results['settings']['threads']} threads "
        f"(gthread), production settings. Load: wrk, {results['settings']['connections']} connections, "
        f"{results['settings']['wrk_threads']} threads, {results['settings']['duration']} s per scenario, loopback.",
        "Dataset: " + ", ".join(f"{n:,} {table}s" for table, n in counts.items()) + _generated(results["generator"]),
        "",
        "| scenario | req/s | p50 ms | p95 ms | queries/request | peak worker RSS MB | req/s vs floor | "
        "req/s vs naive | p95 vs floor | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in results["runs"]:
        name = run["name"] + (" (1 connection)" if run.get("connections") == 1 else "")
        lines.append(
            f"| {name} | {run['rps']:.0f} | {run['p50_ms']} | {run['p95_ms']} | {run['queries']} | "
            f"{run['peak_mb']} | {_ratio(run['rps'], floor['rps'])} | {_ratio(run['rps'], naive['rps'])} | "
            f"{_ratio(run['p95_ms'], floor['p95_ms'])} | {run['errors']} |"
        )
    if results["walks"]:
        lines += ["", "| full walk / export | rows | seconds | rows/s | queries/page | RSS MB (start → end, peak) |"]
        lines.append("|---|---:|---:|---:|---:|---|")
        for walk in results["walks"]:
            start = walk.get("rss_first_mb", walk.get("rss_before_mb"))
            end = walk.get("rss_last_mb", "—")
            lines.append(
                f"| {walk['name']} | {walk['rows']:,} | {walk['seconds']} | {walk['rows_per_s']:.0f} | "
                f"{walk.get('queries', '—')} | {start} → {end}, peak {walk['peak_mb']} |"
            )
    lines += _concurrency(results.get("concurrency"))
    lines += _memory(results.get("memory"))
    lines += [
        "",
        "| outcome report in-process | cases.reports ms | hand-written SQL ms | ratio | with MCID ms | "
        "MCID part's SQL ms | with MCID vs SQL + MCID SQL | SQL without stored facts ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, timing in results["report_in_process"].items():
        mcid = timing.get("mcid_report_ms")
        mcid_ratio = f"{timing['mcid_ratio']:.2f}x" if mcid is not None else "—"
        lines.append(
            f"| {label} | {timing['report_ms']} | {timing['sql_ms']} | {timing['ratio']:.2f}x | "
            f"{mcid if mcid is not None else '—'} | {timing.get('mcid_sql_ms', '—')} | {mcid_ratio} | "
            f"{timing['lookup_sql_ms']} |"
        )
    lines += _workspace(results.get("fixtures", {}))
    lines += _sending(results.get("follow_up_sending"))
    lines.append("")
    return "\n".join(lines)


def _workspace(fixtures: dict) -> list[str]:
    """What the workspace scenarios rest on, said plainly: the worklist's caseload is counted, not chosen."""
    if "worklist_cases" not in fixtures:
        return []
    cases = fixtures["worklist_cases"]
    listed = ", ".join(f"{section} {count:,}" for section, count in fixtures["worklist_listed"].items())
    lines = [
        "",
        f"Workspace pages: the case summary signed in as {fixtures['summary_user']}; the worklist as "
        f"{fixtures['worklist_user']}, the podiatrist with the most active cases: {cases:,} (rows listed by "
        f"section: {listed}; 25 a page).",
    ]
    if cases < WORKLIST_TARGET:
        lines.append(
            f"**The network has no podiatrist with {WORKLIST_TARGET:,} cases**: it spreads its presentations over "
            f"its podiatrists, so the worklist was measured at {cases:,}."
        )
    lines.append(
        "The dashboard over every clinic is a superuser's (no clinic spans the network); the one-clinic row is "
        "clinic 1's admin."
    )
    if "time_point_follow_ups" in fixtures:
        lines.append(
            f"The extended report reads {fixtures['time_point_follow_ups']:,} 6- and 12-month follow-ups of the "
            "alternatives and neurectomies (windows closed, unanswered: counted as missing)."
        )
    return lines


def _sending(sending: dict | None) -> list[str]:
    if not sending:
        return []
    lines = [
        "",
        "| send_follow_ups (dummy email backend) | due | batch size | seconds | rows/s | peak RSS MB | "
        "with a message | sent |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in sending["runs"]:
        lines.append(
            f"| {run['due']:,} due | {run['due']:,} | {run['batch_size']} | {run['seconds']} | "
            f"{run['rows_per_s']:.0f} | {run['peak_mb']} | {run['follow_ups_with_a_message']:,} | {run['sent']:,} |"
        )
    per_batch = ", ".join(
        f"{row['per_batch']:g} at a batch size of {row['batch_size']} ({row['rows']} rows, {row['batches']} batches)"
        for row in sending["queries_per_batch"]
        if row["per_batch"] is not None
    )
    lines += [
        "",
        f"Queries per batch (in-process, CaptureQueriesContext): {per_batch}. "
        f"The command's peak RSS: {sending.get('memory', '—')}.",
    ]
    if sending["runs"] and sending["runs"][-1]["due"] < sending["requested"]:
        lines.append(f"Only {sending['runs'][-1]['due']:,} of the {sending['requested']:,} asked for could be due.")
    return lines


def _concurrency(together: dict | None) -> list[str]:
    if not together:
        return []
    writers, readers = together["writers"], together["readers"]
    lines = [
        "",
        f"Writers and readers at once, {together['connections_per_role']} connections each, {together['duration']} s:",
        "",
        "| role | requests | req/s | p50 ms | p95 ms | p99 ms | errors (non-2xx + socket) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for role, result in (
        ("writers: create a visit (own Idempotency-Key)", writers),
        ("readers: presentations list, 50 a page", readers),
    ):
        lines.append(
            f"| {role} | {result['requests']:,} | {result['rps']:.0f} | {result['p50_ms']} | {result['p95_ms']} | "
            f"{result['p99_ms']} | {result['errors']} |"
        )
    verdict = "; ".join(together["problems"]) or "no lost or duplicated write, no deadlock, no error"
    lines += [
        "",
        f"In the database afterwards: {together['visits_gained']:,} visits gained for "
        f"{together.get('server_201s', writers['created']):,} 201s sent by the server (its idempotency records), "
        f"{writers['created']:,} of them counted by wrk and looked up by id "
        f"({together.get('answered_after_wrk_stopped', 0)} answered after wrk stopped counting); "
        f"{together['deadlocks']} deadlocks (`pg_stat_database`) — {verdict}.",
    ]
    return lines


def _memory(table: dict | None) -> list[str]:
    if not table:
        return []
    lines = [
        "",
        "| memory at each size | presentations | rows | peak worker RSS MB | ratio to 1x |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in table["rows"]:
        ratio = f"{row['ratio']:.2f}x" if row["ratio"] is not None else "—"
        lines.append(
            f"| {row['name']}, {row['scale']}x | {row['presentations']:,} | {row['rows']:,} | {row['peak_mb']} | "
            f"{ratio} |"
        )
    lines += ["", f"Peak memory between the sizes: **{table['verdict']}**."]
    for scale, generated in sorted(table.get("generators", {}).items()):
        if generated:
            lines.append(f"The {scale}x network loaded in {generated['seconds']} s.")
    return lines


def write_results(results: dict, output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    output.with_suffix(".md").write_text(markdown(results))
