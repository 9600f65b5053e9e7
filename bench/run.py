"""`make bench`: build the benchmark database from scratch, serve it with gunicorn, load it with wrk, write the table.

Steps: refuse a busy machine (load average above the core count) unless ``--force``; (re)create the
PostgreSQL database, migrate, bulk-load the network (timed), VACUUM ANALYZE, issue tokens, then for
each scenario start gunicorn afresh (production settings plus ``bench.urls``) on a socket the run
holds on a free port, read the queries one request makes (``X-Bench-Queries``), drive it with wrk
over loopback, and read the workers' peak resident memory (VmHWM). Then writers and readers at once
(``bench.concurrency``), the full walk and the export at the benchmark size and at each larger
``--memory-scales`` size in a database of its own (``bench.memory``), and the outcome report timed
in-process against the best hand-written SQL. Results go to ``bench/results/latest.md`` and ``.json``.

Run ``python -m bench.run --help`` for the options; ``make bench`` uses the defaults.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import sys
import time
import urllib.parse
import uuid
from pathlib import Path

import psycopg

from . import concurrency, follow_ups, guard, memory, sessions
from .server import ROOT, Gunicorn, django_env, listen, manage

RESULTS = ROOT / "bench" / "results"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/neuroma_bench"


def _generated_file(database_url: str) -> Path:
    """Where the generator's timing for this database is kept, for runs that --reuse it."""
    name = urllib.parse.urlparse(database_url).path.lstrip("/")
    return RESULTS / ("generated.json" if name == "neuroma_bench" else f"generated-{name}.json")


def prepare_database(database_url: str, presentations: int, *, reuse: bool) -> dict | None:
    """Create (or re-create) the database and load it; returns how long the generator took (None if unknown)."""
    parsed = urllib.parse.urlparse(database_url)
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and not reuse:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')
    manage(database_url, "migrate", "--noinput", "-v0")
    generated_file = _generated_file(database_url)
    with psycopg.connect(database_url) as db:
        loaded = db.execute("SELECT count(*) FROM cases_presentation").fetchone()[0]
    if loaded:
        print(f"Reusing the {loaded:,} presentations already loaded in {name}.")
        return json.loads(generated_file.read_text()) if generated_file.exists() else None
    load_average = os.getloadavg()
    started = time.monotonic()
    manage(database_url, "generate_network", "--presentations", str(presentations))
    seconds = time.monotonic() - started
    with psycopg.connect(database_url, autocommit=True) as db:
        db.execute("VACUUM ANALYZE")
    generated = {"seconds": round(seconds, 1), "load_average_before": load_average, "presentations": presentations}
    RESULTS.mkdir(parents=True, exist_ok=True)
    generated_file.write_text(json.dumps(generated) + "\n")
    return generated


def django_setup(args) -> None:
    os.environ.update(django_env(args.database_url))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def fixtures() -> dict:
    """Tokens and the records the scenarios read and write (created once, reused on --reuse)."""
    from django.contrib.auth import get_user_model
    from django.db.models import Count

    from api.models import ApiToken, TokenScope
    from bench.token import root_token
    from cases.models import Presentation

    user_model = get_user_model()
    podiatrist = user_model.objects.get(username="network-1-podiatrist-1")
    # The concurrency scenario's readers are a colleague in the same clinic: another caller, the same data.
    colleague = user_model.objects.get(username="network-1-podiatrist-2")
    _, podiatrist_token = ApiToken.issue(user=podiatrist, name="benchmark", scope=TokenScope.READ_WRITE, days=1)
    _, reader_token = ApiToken.issue(user=colleague, name="benchmark", scope=TokenScope.READ, days=1)
    clinic_one = Presentation.objects.filter(patient__clinic__slug="network-1")
    long_one = clinic_one.annotate(visit_count=Count("visits")).filter(visit_count__gte=100).order_by("pk").first()
    # The timeline's presentation is left out, so that its visit count stays the same on --reuse runs.
    writable = list(
        clinic_one.filter(status="active").exclude(pk=long_one.pk).order_by("-pk").values_list("pk", flat=True)[:500]
    )
    follow_ups.clear()
    time_points = follow_ups.load_time_points(podiatrist.memberships.get().clinic.today())
    return {
        "time_point_follow_ups": time_points,
        "root_token": root_token(),
        "podiatrist_token": podiatrist_token,
        "reader_token": reader_token,
        "timeline_presentation": long_one.pk,
        "timeline_visits": long_one.visit_count,
        "clinic_presentations": clinic_one.count(),
        "writable_presentations": writable,
        "clinician": podiatrist.pk,
        "today": podiatrist.memberships.get().clinic.today().isoformat(),
    }


def workspace_fixtures(ids: dict) -> dict:
    """Who signs in for the workspace pages: the long follow-up's podiatrist, the podiatrist with the most
    active cases (counted, not assumed: the network spreads cases evenly), and the superuser for the
    dashboard over every clinic (no clinic spans the network; a superuser reads all of them)."""
    from django.contrib.auth import get_user_model
    from django.db.models import Count

    from cases.choices import PresentationStatus, Role
    from cases.models import Treatment
    from cases.selectors import clinician_worklist

    user_model = get_user_model()
    summary_user = user_model.objects.get(
        pk=Treatment.objects.filter(presentation_id=ids["timeline_presentation"]).values("clinician_id")[:1]
    )
    # The cases the worklist loads: active presentations with a treatment the podiatrist started.
    busiest = (
        Treatment.objects.filter(
            presentation__status=PresentationStatus.ACTIVE,
            clinician__memberships__role=Role.PODIATRIST,
        )
        .values("clinician_id")
        .annotate(cases=Count("presentation_id", distinct=True))
        .order_by("-cases", "clinician_id")
        .first()
    )
    worklist_user = user_model.objects.get(pk=busiest["clinician_id"])
    root = user_model.objects.get(username="bench-root")
    if not root.is_staff:  # the admin lets only staff in; the API token never needed it
        root.is_staff = True
        root.save(update_fields=["is_staff"])
    listed = {section.value: len(entries) for section, entries in clinician_worklist(user=worklist_user).items()}
    return {
        "summary_user": summary_user,
        "worklist_user": worklist_user,
        "worklist_cases": busiest["cases"],
        "worklist_listed": listed,
        "clinic_admin": user_model.objects.get(username="network-1-admin"),
        "root": root,
    }


def workspace_runs(args, ids: dict, people: dict) -> list[dict]:
    """The admin workspace pages (issue 11), each as its user signed in; the sessions are made just before each
    scenario, so none reaches the idle logoff (``SESSION_IDLE_MINUTES``) during a long run."""
    count = max(args.connections, 1)

    def signed_in(user) -> list[str]:
        return sessions.session_cookies(user, count)

    cases = people["worklist_cases"]
    return [
        measure(
            args,
            f"case summary, {ids['timeline_visits']} visits (admin)",
            f"/admin/cases/presentation/{ids['timeline_presentation']}/summary/",
            None,
            cookies=signed_in(people["summary_user"]),
        ),
        measure(
            args,
            f"worklist, podiatrist with {cases:,} active cases (admin)",
            "/admin/worklist/",
            None,
            cookies=signed_in(people["worklist_user"]),
        ),
        measure(
            args,
            "outcomes dashboard, every clinic, superuser (admin)",
            "/admin/outcomes/",
            None,
            cookies=signed_in(people["root"]),
            connections=1,
        ),
        measure(
            args,
            "outcomes dashboard, one clinic, clinic admin (admin)",
            "/admin/outcomes/",
            None,
            cookies=signed_in(people["clinic_admin"]),
            connections=1,
        ),
    ]


def follow_up_sending(args) -> dict:
    """``send_follow_ups`` with N follow-ups due, at N/10 and N (peak RSS at both: flat memory), and the
    queries of one batch at two batch sizes."""
    due = args.follow_ups if args.follow_ups is not None else args.presentations // 2
    per_batch = follow_ups.queries_per_batch()
    for row in per_batch:
        print(f"  send_follow_ups, batch of {row['batch_size']}: {row['per_batch']} queries per batch")
    runs = []
    for count in sorted({max(due // 10, 1), due}):
        result = follow_ups.send_run(args.database_url, count, args.follow_up_batch_size)
        print(
            f"  send_follow_ups, {result['due']:,} due: {result['seconds']} s, {result['rows_per_s']:.0f} rows/s, "
            f"peak {result['peak_mb']} MB, {result['follow_ups_with_a_message']:,} with a message"
        )
        if result["follow_ups_with_a_message"] != result["due"]:
            print(f"  send_follow_ups: {result['due'] - result['follow_ups_with_a_message']} rows got no message")
        runs.append(result)
    verdict = follow_ups.memory_verdict(runs)
    print(f"  send_follow_ups memory: {verdict}")
    return {"requested": due, "queries_per_batch": per_batch, "runs": runs, "memory": verdict}


def measure(
    args,
    name: str,
    path: str,
    token: str,
    *,
    script="get.lua",
    method="GET",
    body=None,
    extra_env=None,
    connections=None,
    cookies: list[str] | None = None,
    idempotent: bool = False,
):
    """One scenario under load; ``connections`` overrides the default (1 measures latency alone, for reports).

    ``cookies`` (signed-in sessions, ``bench.sessions``) instead of a token load an admin page: wrk sends
    them in turn (``session.lua``). ``idempotent``: every request, the warm-up and counted ones too,
    carries an ``Idempotency-Key`` of its own.
    """
    cookie = cookies[0] if cookies else None
    if cookies:
        script, extra_env = "session.lua", {**(extra_env or {}), "BENCH_COOKIES": ",".join(cookies)}

    def key() -> dict:
        return {"Idempotency-Key": f"bench-{uuid.uuid4()}"} if idempotent else {}

    with Gunicorn(args) as server:
        for _ in range(3):  # warm every import and connection
            server.request(method, path, token=token, body=body, cookie=cookie, headers=key())
        queries = server.queries_per_request(method, path, token, body, cookie=cookie, headers=key())
        result = server.wrk(args, path, token, script, extra_env, connections)
        result.update(
            name=name,
            path=path,
            queries=queries,
            peak_mb=round(server.memory_mb(), 1),
            connections=connections or args.connections,
        )
    print(
        f"  {name}: {result['rps']:.0f} req/s, p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, {queries} queries"
    )
    if result["errors"]:
        raise RuntimeError(f"{name}: {result['errors']} of {result['requests']} requests failed")
    return result


def _presentations(database_url: str) -> int:
    with psycopg.connect(database_url) as db:
        return db.execute("SELECT count(*) FROM cases_presentation").fetchone()[0]


def memory_at_scales(args, walks: list[dict]) -> dict:
    """The walk and the export at each ``--memory-scales`` size; scale 1 is the run's own walk and export."""
    # Counted, not assumed: a --reuse run may meet databases loaded at another size.
    measurements = [{"scale": 1, "presentations": _presentations(args.database_url), "walks": walks}]
    generators = {}
    for scale in args.memory_scales:
        if scale == 1:
            continue
        url = memory.scaled_url(args.database_url, scale)
        print(f"Memory at {scale}x ({args.presentations * scale:,} presentations):")
        generators[str(scale)] = prepare_database(url, args.presentations * scale, reuse=args.reuse)
        walked = memory.walk_and_export(args, memory.root_token(url), url)
        for result in walked:
            print(f"  {result['name']}: {result['rows']:,} rows, peak {result['peak_mb']} MB")
        measurements.append({"scale": scale, "presentations": _presentations(url), "walks": walked})
    table = memory.memory_table(measurements)
    print(f"  memory: {table['verdict']}")
    return {**table, "generators": generators}


def report_in_process(repeats: int = 5) -> dict:
    """The outcome report through ``cases.reports`` against hand-written SQL for the same figures, best of ``repeats``.

    Two yardsticks: the best SQL over the same stored facts (the target's reference), and the best SQL
    without them (a lookup per treatment), which is what the report cost before the facts were stored.
    The extended report (``with_mcid=True``) is timed against that SQL plus the best SQL for its MCID part.
    """
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from bench.report_sql import lookup_sql, mcid_sql, stored_facts_sql
    from cases.reports import outcome_report

    today = timezone.localdate()

    def best(run, times: int = repeats) -> float:
        timings = []
        for _ in range(times):
            started = time.perf_counter()
            run()
            timings.append(time.perf_counter() - started)
        return min(timings)

    def hand_written(sql, date_from=None, date_to=None):
        with connection.cursor() as cursor:
            cursor.execute("SET jit = off")
            cursor.execute(sql(date_from, date_to), {"date_from": date_from, "date_to": date_to, "today": today})
            return cursor.fetchall()

    def mcid_part(date_from=None, date_to=None) -> str:
        return mcid_sql(settings.FOLLOW_UP_MCID, settings.FOLLOW_UP_ACCEPTABLE_STATE, date_from, date_to)

    year = (datetime.date(2025, 1, 1), datetime.date(2025, 12, 31))
    results = {}
    for label, window in (("whole dataset", (None, None)), ("one year of starts", year)):
        orm = best(lambda w=window: outcome_report(clinic_ids=None, date_from=w[0], date_to=w[1]))
        extended = best(
            lambda w=window: outcome_report(clinic_ids=None, date_from=w[0], date_to=w[1], with_mcid=True, today=today)
        )
        sql = best(lambda w=window: hand_written(stored_facts_sql, *w))
        mcid_only = best(lambda w=window: hand_written(mcid_part, *w))
        lookups = best(lambda w=window: hand_written(lookup_sql, *w), times=1)
        results[label] = {
            "report_ms": round(orm * 1000, 1),
            "sql_ms": round(sql * 1000, 1),
            "ratio": orm / sql,
            "mcid_report_ms": round(extended * 1000, 1),
            "mcid_sql_ms": round(mcid_only * 1000, 1),
            # The extended report against the best SQL for the same figures: the two queries' best times.
            "mcid_ratio": extended / (sql + mcid_only),
            "lookup_sql_ms": round(lookups * 1000, 1),
        }
    return results


def dataset_counts(args) -> dict:
    with psycopg.connect(args.database_url) as db:
        return {
            table: db.execute(f"SELECT count(*) FROM cases_{table}").fetchone()[0]  # noqa: S608 (fixed names)
            for table in ("clinic", "patient", "presentation", "visit", "treatment", "complication")
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--presentations", type=int, default=200_000)
    parser.add_argument("--reuse", action="store_true", help="Keep already loaded databases (both sizes).")
    parser.add_argument("--duration", type=int, default=15, help="Seconds of load per scenario.")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (processes).")
    parser.add_argument("--threads", type=int, default=2, help="Threads per gunicorn worker.")
    parser.add_argument("--skip-walk", action="store_true", help="Leave out the full walk, the export and memory.")
    parser.add_argument(
        "--memory-scales",
        type=memory.parse_scales,
        default=[1, 2],
        help="Sizes, in multiples of --presentations, at which to measure the walk's and the export's peak "
        "memory (default 1,2; each size above 1 is a database of its own, <name>_x<scale>; 1 alone skips it).",
    )
    parser.add_argument("--concurrency-duration", type=int, default=30, help="Seconds of writers and readers.")
    parser.add_argument("--concurrency-connections", type=int, default=8, help="Connections per role.")
    parser.add_argument("--skip-concurrency", action="store_true", help="Leave out writers and readers at once.")
    parser.add_argument(
        "--follow-ups",
        type=int,
        default=None,
        help="Follow-ups due for the send_follow_ups scenario (default: half the presentations; 0 leaves it out).",
    )
    parser.add_argument("--follow-up-batch-size", type=int, default=500, help="send_follow_ups --batch-size.")
    parser.add_argument("--skip-workspace", action="store_true", help="Leave out the admin workspace pages.")
    parser.add_argument("--force", action="store_true", help="Run on a busy machine; the results say how busy it was.")
    parser.add_argument("--output", default=str(RESULTS / "latest"))
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk (make bench does it).")
    load_average_before = os.getloadavg()
    refusal = guard.busy_refusal(load_average_before[0], os.cpu_count())
    if refusal and not args.force:
        sys.exit(refusal)
    busy = guard.busy_note(load_average_before[0]) if refusal else None
    if busy:
        print(f"Going on, {busy}: the results will say so.")

    args.listener = listen()
    print(f"Serving on {args.listener.getsockname()[0]}:{args.listener.getsockname()[1]}")
    generated = prepare_database(args.database_url, args.presentations, reuse=args.reuse)
    django_setup(args)
    ids = fixtures()
    people = None if args.skip_workspace else workspace_fixtures(ids)
    if people:
        ids.update(
            worklist_cases=people["worklist_cases"],
            worklist_listed=people["worklist_listed"],
            worklist_user=people["worklist_user"].get_username(),
            summary_user=people["summary_user"].get_username(),
        )
    root, podiatrist = ids["root_token"], ids["podiatrist_token"]
    print("Scenarios:")
    runs = [
        measure(args, "presentations list (api)", "/api/v1/presentations/?page_size=50", podiatrist),
        measure(args, "presentations list (naive)", "/bench/naive/presentations/?page_size=50", podiatrist),
        measure(args, "presentations list (floor)", "/bench/floor/presentations/", podiatrist),
        measure(
            args,
            f"timeline, {ids['timeline_visits']} visits",
            f"/api/v1/presentations/{ids['timeline_presentation']}/timeline/",
            root,
        ),
        measure(args, "outcome report, whole dataset", "/api/v1/reports/outcomes/", root, connections=1),
        measure(
            args,
            "outcome report, filtered",
            "/api/v1/reports/outcomes/?date_from=2025-01-01&date_to=2025-12-31&sex=female&age_band=50-59",
            root,
            connections=1,
        ),
        *create_runs(args, ids, podiatrist),
    ]
    if people:
        runs += workspace_runs(args, ids, people)
    together = None if args.skip_concurrency else concurrency.writers_and_readers(args, ids)
    walks = [] if args.skip_walk else memory.walk_and_export(args, root)
    for walked in walks:
        print(f"  {walked['name']}: {walked['rows']:,} rows in {walked['seconds']} s, peak {walked['peak_mb']} MB")
    report = report_in_process()
    print(
        "  outcome report in-process, whole dataset: "
        f"{report['whole dataset']['report_ms']} ms, with MCID {report['whole dataset']['mcid_report_ms']} ms"
    )
    sending = None if args.follow_ups == 0 else follow_up_sending(args)
    # Last, because loading the larger network keeps both cores busy for minutes.
    memory_table = memory_at_scales(args, walks) if walks and len(args.memory_scales) > 1 else None
    results = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "busy": busy,
        "machine": machine(args),
        "load_average_before": load_average_before,
        "settings": {
            k: getattr(args, k)
            for k in ("duration", "connections", "wrk_threads", "workers", "threads", "memory_scales")
        },
        "dataset": dataset_counts(args),
        "generator": generated,
        "fixtures": {k: v for k, v in ids.items() if not k.endswith("token") and k != "writable_presentations"},
        "runs": runs,
        "concurrency": together,
        "walks": walks,
        "memory": memory_table,
        "report_in_process": report,
        "follow_up_sending": sending,
        "load_average_after": os.getloadavg(),
    }
    args.listener.close()
    from bench.table import write_results

    write_results(results, Path(args.output))
    print(f"Wrote {args.output}.md")


def create_runs(args, ids: dict, token: str) -> list[dict]:
    """Writes: a visit as round one measured it (no key), then a visit and a treatment each with an
    ``Idempotency-Key`` of its own (the API's one-transaction create, as a careful client sends it)."""
    under = ids["writable_presentations"]
    env = {"BENCH_PRESENTATIONS": ",".join(map(str, under)), "BENCH_TODAY": ids["today"]}
    writes = [
        ("create a visit", "/api/v1/visits/", "visit", False),
        ("create a visit, Idempotency-Key", "/api/v1/visits/", "visit", True),
        ("start a treatment, Idempotency-Key", "/api/v1/treatments/", "treatment", True),
    ]
    return [
        measure(
            args,
            name,
            path,
            token,
            script="create.lua",
            method="POST",
            body=(_visit_body if record == "visit" else _treatment_body)(under[0], ids["today"]),
            extra_env={**env, "BENCH_RECORD": record, "BENCH_IDEMPOTENT": "1" if keyed else "0"},
            idempotent=keyed,
        )
        for name, path, record, keyed in writes
    ]


def _treatment_body(presentation_id: int, today: str) -> dict:
    # Footwear modification, the first rung: the ladder accepts it again on any presentation.
    return {"presentation": presentation_id, "started_on": today, "kind": "footwear_modification"}


def _visit_body(presentation_id: int, today: str) -> dict:
    return {"presentation": presentation_id, "seen_on": today, "pain_walking": 3, "pain_rest": 0}


def machine(args) -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    with psycopg.connect(args.database_url) as db:
        postgres = db.execute("SHOW server_version").fetchone()[0]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "postgresql": postgres,
        "kernel": platform.release(),
    }


if __name__ == "__main__":
    main()
