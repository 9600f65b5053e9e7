"""`make bench`: build the benchmark database from scratch, serve it with gunicorn, load it with wrk, write the table.

Steps: (re)create the PostgreSQL database, migrate, bulk-load the network (timed), VACUUM ANALYZE,
issue tokens, then for each scenario start gunicorn afresh (production settings plus ``bench.urls``),
read the queries one request makes (``X-Bench-Queries``), drive it with wrk over loopback, and read
the workers' peak resident memory (VmHWM). The outcome report is also timed in-process against the
best hand-written SQL for the same figures. Results go to ``bench/results/latest.md`` and ``.json``.

Run ``python -m bench.run --help`` for the options; ``make bench`` uses the defaults.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
WRK_SCRIPTS = ROOT / "bench" / "wrk"
GENERATED = RESULTS / "generated.json"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/neuroma_bench"
HOST, PORT = "127.0.0.1", 8765


def _env(args) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50),
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": HOST,
        # The load generator is one caller hammering the API: production's per-token budget would 429 it.
        "API_RATE_PER_CALLER": "100000000/min",
        "DJANGO_LOG_LEVEL": "WARNING",
        # TLS ends at the load balancer in production; the bench speaks plain HTTP on loopback and says
        # so the way a balancer does, so the HTTPS redirect and HSTS settings stay as deployed.
        "DJANGO_SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
    }


def _manage(args, *command: str) -> None:
    subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=_env(args), check=True)  # noqa: S603


def prepare_database(args) -> dict | None:
    """Create (or re-create) the database and load it; returns how long the generator took (None if unknown)."""
    parsed = urllib.parse.urlparse(args.database_url)
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and not args.reuse:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')
    _manage(args, "migrate", "--noinput", "-v0")
    with psycopg.connect(args.database_url) as db:
        loaded = db.execute("SELECT count(*) FROM cases_presentation").fetchone()[0]
    if loaded:
        print(f"Reusing the {loaded:,} presentations already loaded.")
        return json.loads(GENERATED.read_text()) if GENERATED.exists() else None
    load_average = os.getloadavg()
    started = time.monotonic()
    _manage(args, "generate_network", "--presentations", str(args.presentations))
    seconds = time.monotonic() - started
    with psycopg.connect(args.database_url, autocommit=True) as db:
        db.execute("VACUUM ANALYZE")
    generated = {"seconds": round(seconds, 1), "load_average_before": load_average}
    RESULTS.mkdir(parents=True, exist_ok=True)
    GENERATED.write_text(json.dumps(generated) + "\n")  # kept for runs that --reuse this database
    return generated


def django_setup(args) -> None:
    os.environ.update(_env(args))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def fixtures() -> dict:
    """Tokens and the records the scenarios read and write (created once, reused on --reuse)."""
    from django.contrib.auth import get_user_model
    from django.db.models import Count

    from api.models import ApiToken, TokenScope
    from cases.models import Presentation

    user_model = get_user_model()
    root, _ = user_model.objects.get_or_create(username="bench-root", defaults={"is_superuser": True})
    podiatrist = user_model.objects.get(username="network-1-podiatrist-1")
    _, root_token = ApiToken.issue(user=root, name="benchmark", scope=TokenScope.READ_WRITE, days=1)
    _, podiatrist_token = ApiToken.issue(user=podiatrist, name="benchmark", scope=TokenScope.READ_WRITE, days=1)
    clinic_one = Presentation.objects.filter(patient__clinic__slug="network-1")
    long_one = clinic_one.annotate(visit_count=Count("visits")).filter(visit_count__gte=100).order_by("pk").first()
    writable = list(clinic_one.filter(status="active").order_by("-pk").values_list("pk", flat=True)[:500])
    return {
        "root_token": root_token,
        "podiatrist_token": podiatrist_token,
        "timeline_presentation": long_one.pk,
        "timeline_visits": long_one.visit_count,
        "clinic_presentations": clinic_one.count(),
        "writable_presentations": writable,
        "clinician": podiatrist.pk,
        "today": podiatrist.memberships.get().clinic.today().isoformat(),
    }


class Gunicorn:
    """A fresh gunicorn per scenario, so each one's peak memory is its own."""

    def __init__(self, args) -> None:
        self.args = args
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        command = [
            str(Path(sys.executable).parent / "gunicorn"),
            "clinic.wsgi",
            "--bind",
            f"{HOST}:{PORT}",
            "--workers",
            str(self.args.workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(self.args.threads),
            "--log-level",
            "warning",
        ]
        self.process = subprocess.Popen(command, cwd=ROOT, env=_env(self.args))  # noqa: S603 (our own argv)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                request("GET", "/api/schema/?format=json")
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return [int(pid) for pid in children]

    def memory_mb(self, field: str = "VmHWM") -> float:
        """The largest ``field`` (VmHWM: peak resident, VmRSS: current) among the workers, in MB."""
        peaks = []
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    peaks.append(int(line.split()[1]) / 1024)
        return max(peaks)

    def __exit__(self, *exc) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


def request(method: str, path: str, *, token: str | None = None, body: dict | None = None, count=False):
    connection = http.client.HTTPConnection(HOST, PORT, timeout=120)
    headers = {"Content-Type": "application/json", "X-Forwarded-Proto": "https"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if count:
        headers["X-Bench-Queries"] = "1"
    connection.request(method, path, body=json.dumps(body) if body else None, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    if not 200 <= response.status < 300:
        raise RuntimeError(f"{method} {path} answered {response.status}: {payload[:300]!r}")
    return response, payload


def queries_per_request(method: str, path: str, token: str, body: dict | None = None) -> int:
    response, _ = request(method, path, token=token, body=body, count=True)
    return int(response.headers["X-Bench-Queries"])


def wrk(args, path: str, token: str, script: str = "get.lua", extra_env: dict | None = None, connections=None) -> dict:
    env = {**os.environ, "BENCH_TOKEN": token, **(extra_env or {})}
    command = [
        "wrk",
        f"-t{min(args.wrk_threads, connections or args.connections)}",  # wrk needs a connection per thread
        f"-c{connections or args.connections}",
        f"-d{args.duration}s",
        "--timeout",
        "30s",
        "-s",
        str(WRK_SCRIPTS / script),
        f"http://{HOST}:{PORT}{path}",
    ]
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout  # noqa: S603
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    return json.loads(line[len("BENCH ") :])


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
):
    """One scenario under load; ``connections`` overrides the default (1 measures latency alone, for reports)."""
    with Gunicorn(args) as server:
        for _ in range(3):
            request(method, path, token=token, body=body)  # warm every import and connection
        queries = queries_per_request(method, path, token, body)
        result = wrk(args, path, token, script, extra_env, connections)
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


def walk(args, name: str, path: str, token: str) -> dict:
    """Follow ``next`` links from ``path`` to the end, as a nightly integration does, one request at a time."""
    with Gunicorn(args) as server:
        request("GET", path, token=token)
        queries = queries_per_request("GET", path, token)
        pages = rows = 0
        latencies, rss = [], []
        started = time.monotonic()
        next_path = path
        while next_path:
            began = time.monotonic()
            _, payload = request("GET", next_path, token=token)
            latencies.append(time.monotonic() - began)
            page = json.loads(payload)
            pages, rows = pages + 1, rows + len(page["results"])
            if pages % 100 == 1:
                rss.append(server.memory_mb("VmRSS"))
            next_url = page.get("next")
            next_path = urllib.parse.urlsplit(next_url)._replace(scheme="", netloc="").geturl() if next_url else None
        seconds = time.monotonic() - started
        peak = server.memory_mb()
    return {
        "name": name,
        "path": path,
        "pages": pages,
        "rows": rows,
        "seconds": round(seconds, 1),
        "rps": pages / seconds,
        "rows_per_s": rows / seconds,
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p95_ms": round(statistics.quantiles(latencies, n=20)[18] * 1000, 1),
        "queries": queries,
        "peak_mb": round(peak, 1),
        "rss_first_mb": round(rss[0], 1),
        "rss_last_mb": round(rss[-1], 1),
    }


def stream(args, name: str, path: str, token: str) -> dict:
    """Download a streamed export whole, timing it and reading the worker's memory before and after."""
    with Gunicorn(args) as server:
        before = server.memory_mb("VmRSS")
        connection = http.client.HTTPConnection(HOST, PORT, timeout=600)
        started = time.monotonic()
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}", "X-Forwarded-Proto": "https"})
        response = connection.getresponse()
        size = lines = 0
        while chunk := response.read(1 << 16):
            size += len(chunk)
            lines += chunk.count(b"\n")
        seconds = time.monotonic() - started
        peak = server.memory_mb()
    return {
        "name": name,
        "path": path,
        "rows": lines - 1,
        "megabytes": round(size / 1e6, 1),
        "seconds": round(seconds, 1),
        "rows_per_s": (lines - 1) / seconds,
        "rss_before_mb": round(before, 1),
        "peak_mb": round(peak, 1),
    }


def report_in_process(repeats: int = 5) -> dict:
    """The outcome report through ``cases.reports`` against hand-written SQL for the same figures, best of ``repeats``.

    Two yardsticks: the best SQL over the same stored facts (the target's reference), and the best SQL
    without them (a lookup per treatment), which is what the report cost before the facts were stored.
    """
    from django.db import connection

    from bench.report_sql import lookup_sql, stored_facts_sql
    from cases.reports import outcome_report

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
            cursor.execute(sql(date_from, date_to), {"date_from": date_from, "date_to": date_to})
            return cursor.fetchall()

    year = (datetime.date(2025, 1, 1), datetime.date(2025, 12, 31))
    results = {}
    for label, window in (("whole dataset", (None, None)), ("one year of starts", year)):
        orm = best(lambda w=window: outcome_report(clinic_ids=None, date_from=w[0], date_to=w[1]))
        sql = best(lambda w=window: hand_written(stored_facts_sql, *w))
        lookups = best(lambda w=window: hand_written(lookup_sql, *w), times=1)
        results[label] = {
            "report_ms": round(orm * 1000, 1),
            "sql_ms": round(sql * 1000, 1),
            "ratio": orm / sql,
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
    parser.add_argument("--reuse", action="store_true", help="Keep an already loaded database.")
    parser.add_argument("--duration", type=int, default=15, help="Seconds of load per scenario.")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (processes).")
    parser.add_argument("--threads", type=int, default=2, help="Threads per gunicorn worker.")
    parser.add_argument("--skip-walk", action="store_true", help="Leave out the full walk and the export.")
    parser.add_argument("--output", default=str(RESULTS / "latest"))
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk (make bench does it).")

    generated = prepare_database(args)
    django_setup(args)
    ids = fixtures()
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
        measure(
            args,
            "create a visit",
            "/api/v1/visits/",
            podiatrist,
            script="create_visit.lua",
            method="POST",
            body=_visit_body(ids["writable_presentations"][0], ids["today"]),
            extra_env={
                "BENCH_PRESENTATIONS": ",".join(map(str, ids["writable_presentations"])),
                "BENCH_TODAY": ids["today"],
            },
        ),
    ]
    walks = []
    if not args.skip_walk:
        walks.append(walk(args, "walk all patients, 200 a page", "/api/v1/patients/?page_size=200", root))
        walks.append(stream(args, "presentations CSV export, all clinics", "/api/v1/presentations/export/", root))
    results = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(args),
        "load_average_before": os.getloadavg(),
        "settings": {k: getattr(args, k) for k in ("duration", "connections", "wrk_threads", "workers", "threads")},
        "dataset": dataset_counts(args),
        "generator": generated,
        "fixtures": {k: v for k, v in ids.items() if not k.endswith("token") and k != "writable_presentations"},
        "runs": runs,
        "walks": walks,
        "report_in_process": report_in_process(),
        "load_average_after": os.getloadavg(),
    }
    from bench.table import write_results

    write_results(results, Path(args.output))
    print(f"Wrote {args.output}.md")


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
