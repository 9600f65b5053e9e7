"""The full cursor walk and the CSV export, and the workers' peak memory for them at each size of the network.

Flat memory is a claim about how the peak grows with the data, so the same two downloads run against
the benchmark database and against one holding ``scale`` times as many presentations (its own
database, ``<name>_x<scale>``, generated the same way); the table compares each peak with the one
at the benchmark size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import urllib.parse

from .server import ROOT, Gunicorn, django_env

WALK = "walk all patients, 200 a page"
EXPORT = "presentations CSV export, all clinics"
WALK_PATH = "/api/v1/patients/?page_size=200"
EXPORT_PATH = "/api/v1/presentations/export/"
# "Flat": the peak at a larger size within this fraction of the peak at the benchmark size.
FLAT_WITHIN = 0.10
FLAT_WORDS = f"within {round(FLAT_WITHIN * 100)} %"


def walk(server: Gunicorn, name: str, path: str, token: str) -> dict:
    """Follow ``next`` links from ``path`` to the end, as a nightly integration does, one request at a time."""
    server.request("GET", path, token=token)
    queries = server.queries_per_request("GET", path, token)
    pages = rows = 0
    latencies, rss = [], []
    started = time.monotonic()
    next_path = path
    while next_path:
        began = time.monotonic()
        _, payload = server.request("GET", next_path, token=token)
        latencies.append(time.monotonic() - began)
        page = json.loads(payload)
        pages, rows = pages + 1, rows + len(page["results"])
        if pages % 100 == 1:
            rss.append(server.memory_mb("VmRSS"))
        next_url = page.get("next")
        next_path = urllib.parse.urlsplit(next_url)._replace(scheme="", netloc="").geturl() if next_url else None
    seconds = time.monotonic() - started
    return {
        "name": name,
        "path": path,
        "pages": pages,
        "rows": rows,
        "seconds": round(seconds, 1),
        "rps": pages / seconds,
        "rows_per_s": rows / seconds,
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p95_ms": round(_p95(latencies) * 1000, 1),
        "queries": queries,
        "peak_mb": round(server.memory_mb(), 1),
        "rss_first_mb": round(rss[0], 1),
        "rss_last_mb": round(rss[-1], 1),
    }


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) > 1 else values[0]


def stream(server: Gunicorn, name: str, path: str, token: str) -> dict:
    """Download a streamed export whole, timing it and reading the worker's memory before and after."""
    before = server.memory_mb("VmRSS")
    connection = server.connection(timeout=600)
    started = time.monotonic()
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}", "X-Forwarded-Proto": "https"})
    response = connection.getresponse()
    size = lines = 0
    while chunk := response.read(1 << 16):
        size += len(chunk)
        lines += chunk.count(b"\n")
    connection.close()
    seconds = time.monotonic() - started
    return {
        "name": name,
        "path": path,
        "rows": lines - 1,
        "megabytes": round(size / 1e6, 1),
        "seconds": round(seconds, 1),
        "rows_per_s": (lines - 1) / seconds,
        "rss_before_mb": round(before, 1),
        "peak_mb": round(server.memory_mb(), 1),
    }


def walk_and_export(args: argparse.Namespace, token: str, database_url: str | None = None) -> list[dict]:
    """The walk and the export, each on a fresh gunicorn so that each peak is its own."""
    with Gunicorn(args, database_url) as server:
        walked = walk(server, WALK, WALK_PATH, token)
    with Gunicorn(args, database_url) as server:
        exported = stream(server, EXPORT, EXPORT_PATH, token)
    return [walked, exported]


def scaled_url(database_url: str, scale: int) -> str:
    """The database that holds ``scale`` times the benchmark network: the benchmark's name with ``_x<scale>``."""
    parsed = urllib.parse.urlparse(database_url)
    return parsed._replace(path=f"{parsed.path.rstrip('/')}_x{scale}").geturl()


def root_token(database_url: str) -> str:
    """A read-write token for the superuser of the database at ``database_url`` (issued by ``bench.token``)."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.token"],
        cwd=ROOT,
        env=django_env(database_url),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def parse_scales(text: str) -> list[int]:
    """``--memory-scales 1,2`` → [1, 2]; the benchmark size (1) is always measured, as the ratios' base."""
    try:
        scales = {int(part) for part in text.split(",") if part.strip()}
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--memory-scales takes whole numbers separated by commas, not {text!r}"
        ) from None
    if any(scale < 1 for scale in scales):
        raise argparse.ArgumentTypeError("--memory-scales: every scale is 1 or more (1 is the benchmark size)")
    return sorted(scales | {1})


def memory_table(measurements: list[dict]) -> dict:
    """Rows (size, rows, peak RSS, ratio to the benchmark size) per download, and whether every peak stayed flat.

    ``measurements`` holds one dict per size: ``scale``, ``presentations`` and ``walks`` (the walk and
    the export as :func:`walk_and_export` returns them). A ratio is the peak at that size over the peak
    of the same download at scale 1.
    """
    base = {walked["name"]: walked["peak_mb"] for m in measurements if m["scale"] == 1 for walked in m["walks"]}
    rows = []
    for measurement in sorted(measurements, key=lambda m: m["scale"]):
        for walked in measurement["walks"]:
            reference = base.get(walked["name"])
            rows.append(
                {
                    "name": walked["name"],
                    "scale": measurement["scale"],
                    "presentations": measurement["presentations"],
                    "rows": walked["rows"],
                    "peak_mb": walked["peak_mb"],
                    "ratio": walked["peak_mb"] / reference if reference else None,
                }
            )
    rows.sort(key=lambda row: (row["name"] != WALK, row["scale"]))
    ratios = [row["ratio"] for row in rows if row["scale"] != 1 and row["ratio"] is not None]
    flat = bool(ratios) and all(abs(ratio - 1) <= FLAT_WITHIN for ratio in ratios)
    if not ratios:
        verdict = "only the benchmark size was measured: nothing to compare"
    elif flat:
        verdict = FLAT_WORDS
    else:
        worst = max(ratios, key=lambda ratio: abs(ratio - 1))
        verdict = f"not {FLAT_WORDS} (worst ratio {worst:.2f}x)"
    return {"rows": rows, "flat": flat, "verdict": verdict}
