"""Writers and readers at once: 8 connections creating visits and 8 listing presentations, for 30 s.

Two wrk processes start together against one gunicorn (``bench/wrk/concurrent.lua``, a role each).
Afterwards the database is asked what happened. Every visit a writer was answered 201 for must be
there, once (no lost write); the visits the database gained must equal the 201s the server sent, as
its idempotency records for the run's keys count them, each key holding one distinct visit (no
duplicated write); and ``pg_stat_database.deadlocks`` must not have moved. wrk stops listening when
its time is up, so up to one write per connection is answered after it stopped counting: those are
reported, not taken for lost ones.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import time
import urllib.parse

import psycopg

from .server import Gunicorn, wrk_summary

READ_PATH = "/api/v1/presentations/?page_size=50"
WRITE_PATH = "/api/v1/visits/"


def database_state(database_url: str, key_prefix: str, answered_ids: list[int] = ()) -> dict:
    """Visits, deadlocks so far, the run's idempotency records, and how many of ``answered_ids`` exist."""
    with psycopg.connect(database_url, autocommit=True) as db:
        visits = db.execute("SELECT count(*) FROM cases_visit").fetchone()[0]
        deadlocks = db.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()").fetchone()[
            0
        ]
        keys, server_201s, distinct_visits = db.execute(
            """
            SELECT count(*), count(*) FILTER (WHERE status_code = 201),
                   count(DISTINCT response_body ->> 'id') FILTER (WHERE status_code = 201)
            FROM api_idempotencyrecord
            WHERE key LIKE %s
            """,
            [key_prefix + "-%"],  # the run's prefix is letters, digits and hyphens only
        ).fetchone()
        found = db.execute(
            "SELECT count(*) FROM cases_visit WHERE id = ANY(%s)", [sorted(set(answered_ids))]
        ).fetchone()[0]
    return {
        "visits": visits,
        "deadlocks": deadlocks,
        "keys": keys,
        "server_201s": server_201s,
        "distinct_keyed_visits": distinct_visits,
        "answered_found": found,
    }


def findings(writers: dict, readers: dict, before: dict, after: dict, connections: int) -> list[str]:
    """What went wrong, in words, or an empty list: errors, lost or duplicated writes, deadlocks."""
    problems = []
    for role, result in (("writers", writers), ("readers", readers)):
        if result["errors"]:
            problems.append(
                f"{role}: {result['errors']} of {result['requests']} requests failed "
                f"({result['non_2xx']} non-2xx answers, {result['socket_errors']} socket errors)"
            )
    answered = writers["created_ids"]
    if len(set(answered)) != len(answered):
        problems.append(f"duplicated answers: {len(answered) - len(set(answered))} visits answered to two requests")
    if after["answered_found"] != len(set(answered)):
        problems.append(f"lost writes: {len(set(answered)) - after['answered_found']} visits answered 201 are missing")
    gained = after["visits"] - before["visits"]
    if gained != after["server_201s"]:
        problems.append(f"the database gained {gained} visits for {after['server_201s']} 201s the server sent")
    if after["distinct_keyed_visits"] != after["server_201s"]:
        duplicates = after["server_201s"] - after["distinct_keyed_visits"]
        problems.append(f"duplicated writes: {duplicates} visits recorded under more than one key")
    late = after["server_201s"] - writers["created"]
    if not 0 <= late <= connections:
        problems.append(
            f"the server sent {after['server_201s']} 201s, wrk counted {writers['created']}: more apart than "
            f"the {connections} writes in flight when wrk stopped"
        )
    if writers["replayed"]:
        problems.append(f"{writers['replayed']} answers were replays although every key was new")
    deadlocks = after["deadlocks"] - before["deadlocks"]
    if deadlocks:
        problems.append(f"{deadlocks} deadlocks in pg_stat_database during the run")
    return problems


def writers_and_readers(args: argparse.Namespace, ids: dict) -> dict:
    """Run both roles together for ``args.concurrency_duration`` seconds and count the outcome in the database."""
    run = f"bench-{secrets.token_hex(6)}"
    common = {**os.environ, "BENCH_TODAY": ids["today"], "BENCH_RUN": run}
    writer_env = {
        **common,
        "BENCH_ROLE": "write",
        "BENCH_TOKEN": ids["podiatrist_token"],
        "BENCH_PRESENTATIONS": ",".join(map(str, ids["writable_presentations"])),
    }
    reader_env = {**common, "BENCH_ROLE": "read", "BENCH_TOKEN": ids["reader_token"]}
    connections, duration = args.concurrency_connections, args.concurrency_duration
    with Gunicorn(args) as server:
        for _ in range(3):  # warm every import and both threads' connections
            server.request("GET", READ_PATH, token=ids["reader_token"])
        before = database_state(args.database_url, run)
        started = [
            subprocess.Popen(  # noqa: S603 (our own argv)
                server.wrk_command(args, path, "concurrent.lua", connections=connections, duration=duration),
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for path, env in ((WRITE_PATH, writer_env), (READ_PATH, reader_env))
        ]
        outputs = [process.communicate(timeout=duration + 120) for process in started]
        for process, (_, error) in zip(started, outputs, strict=True):
            if process.returncode:
                raise RuntimeError(f"wrk failed ({process.returncode}): {error.strip()}")
        peak = round(server.memory_mb(), 1)
    # The workers' connections close with gunicorn, which flushes their statistics (deadlocks among them).
    time.sleep(1)
    writers, readers = (wrk_summary(out) for out, _ in outputs)
    after = database_state(args.database_url, run, writers["created_ids"])
    problems = findings(writers, readers, before, after, connections)
    for role in (writers, readers):
        role.pop("created_ids")  # looked up above; thousands of ids are no figure for the results
    result = {
        "connections_per_role": connections,
        "duration": duration,
        "database": urllib.parse.urlparse(args.database_url).path.lstrip("/"),
        "writers": writers,
        "readers": readers,
        "visits_gained": after["visits"] - before["visits"],
        "server_201s": after["server_201s"],
        "answered_after_wrk_stopped": after["server_201s"] - writers["created"],
        "deadlocks": after["deadlocks"] - before["deadlocks"],
        "idempotency_keys": after["keys"],
        "peak_mb": peak,
        "problems": problems,
    }
    print(
        f"  concurrency: writers {writers['rps']:.0f} req/s p95 {writers['p95_ms']} ms, "
        f"readers {readers['rps']:.0f} req/s p95 {readers['p95_ms']} ms; {writers['created']} 201s, "
        f"{result['visits_gained']} visits gained, {result['deadlocks']} deadlocks"
        + ("".join(f"\n    PROBLEM: {problem}" for problem in problems))
    )
    return result
