"""Follow-ups on the benchmark network: the 6- and 12-month rows the extended report reads, and the sending run.

The network generator writes no follow-ups, so the run adds them here, straight into the tables (plain
bulk inserts: follow-ups are scheduling rows, not clinical record, and their manager allows it):

- ``load_time_points``: a 6- and a 12-month follow-up for every alternative and neurectomy whose window
  has closed, left unanswered (``missed``), so that the report's MCID pass reads real rows and the
  baselines of their presentations. No answers are invented: attainment counts them as missing.
- ``load_due``: ``count`` baseline follow-ups due today for presentations whose patient has an email,
  next message now, for ``manage.py send_follow_ups`` to send.

``send_run`` runs the command in a process of its own (the dummy email backend: nothing leaves the
machine) and reads that process's own peak RSS from ``os.wait4``; ``queries_per_batch`` counts the
queries of one batch in-process at two batch sizes.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import time

from .server import ROOT, django_env

DUE_BATCH = 5_000
# A batch's queries are read as (queries of a run - queries of a run with nothing due) / batches.
QUERY_ROWS = 400


def memory_verdict(runs: list[dict]) -> str:
    """Whether the command's peak RSS stayed flat from the smallest to the largest number due (within 10 %)."""
    if len(runs) < 2:
        return "one size only: no verdict"
    smallest, largest = min(runs, key=lambda run: run["due"]), max(runs, key=lambda run: run["due"])
    ratio = largest["peak_mb"] / smallest["peak_mb"]
    growth = f"{smallest['due']:,} → {largest['due']:,} due: peak {smallest['peak_mb']} → {largest['peak_mb']} MB"
    return f"{'flat' if ratio <= 1.10 else 'not flat'} ({growth}, {ratio:.2f}x)"


def clear() -> None:
    """Every follow-up and what hangs off it: the benchmark database holds only the run's own."""
    from django.db import connection

    from cases.followups.models import FollowUp, FollowUpAnswer, FollowUpLink, FollowUpMessage

    with connection.cursor() as cursor:
        for model in (FollowUpMessage, FollowUpAnswer, FollowUpLink, FollowUp):
            cursor.execute(f"DELETE FROM {model._meta.db_table}")  # noqa: S608 (model table names)


def load_time_points(today: datetime.date) -> int:
    """6- and 12-month follow-ups (missed) for the alternatives and neurectomies whose window has closed."""
    from dateutil.relativedelta import relativedelta

    from cases import ladder
    from cases.choices import TreatmentKind
    from cases.followups.choices import FollowUpStatus, TimePoint
    from cases.followups.models import FollowUp
    from cases.models import Treatment

    procedures = [kind for kind in TreatmentKind.values if ladder.step_of(kind) >= ladder.ALTERNATIVE]
    rows = []
    for months, time_point in ((6, TimePoint.MONTH_6), (12, TimePoint.MONTH_12)):
        # Due ``months`` after the start, its window (the product's default, 7 days before to 28 after) closed.
        latest_start = today - relativedelta(months=months) - datetime.timedelta(days=29)
        for pk, presentation_id, clinician_id, started_on in Treatment.objects.filter(
            kind__in=procedures, started_on__lte=latest_start
        ).values_list("pk", "presentation_id", "clinician_id", "started_on"):
            due_on = started_on + relativedelta(months=months)
            rows.append(
                FollowUp(
                    presentation_id=presentation_id,
                    treatment_id=pk,
                    clinician_id=clinician_id,
                    time_point=time_point,
                    due_on=due_on,
                    window_opens_on=due_on - datetime.timedelta(days=7),
                    window_closes_on=due_on + datetime.timedelta(days=28),
                    status=FollowUpStatus.MISSED,
                )
            )
    FollowUp.objects.bulk_create(rows, batch_size=DUE_BATCH)
    return len(rows)


def load_due(count: int, *, exclude: list[int] = ()) -> int:
    """Baseline follow-ups due today (next message now) for up to ``count`` presentations with a reachable patient."""
    from django.utils import timezone

    from cases.followups.choices import FollowUpStatus, TimePoint
    from cases.followups.models import FollowUp
    from cases.models import Clinic, Presentation

    now = timezone.now()
    today = {clinic.pk: clinic.today() for clinic in Clinic.objects.all()}
    candidates = (
        Presentation.objects.filter(patient__email__gt="", patient__archived=False)
        .exclude(follow_ups__time_point=TimePoint.BASELINE)
        .exclude(pk__in=list(exclude))
        .order_by("pk")
        .values_list("pk", "patient__clinic_id")[:count]
    )
    rows = [
        FollowUp(
            presentation_id=pk,
            time_point=TimePoint.BASELINE,
            due_on=today[clinic_id],
            window_opens_on=today[clinic_id] - datetime.timedelta(days=7),
            window_closes_on=today[clinic_id] + datetime.timedelta(days=28),
            status=FollowUpStatus.SCHEDULED,
            next_message_at=now,
        )
        for pk, clinic_id in candidates
    ]
    FollowUp.objects.bulk_create(rows, batch_size=DUE_BATCH)
    return len(rows)


def _due_ids() -> list[int]:
    from cases.followups.choices import TimePoint
    from cases.followups.models import FollowUp

    return list(FollowUp.objects.filter(time_point=TimePoint.BASELINE).values_list("pk", flat=True))


def _messages_for(ids: list[int]) -> dict:
    from cases.followups.models import FollowUpMessage

    messages = FollowUpMessage.objects.filter(follow_up_id__in=ids)
    return {
        "messages": messages.count(),
        "follow_ups_with_a_message": messages.values("follow_up_id").distinct().count(),
        "sent": messages.filter(sent_at__isnull=False).count(),
    }


def _remove_baselines() -> None:
    from django.db import connection

    from cases.followups.choices import TimePoint
    from cases.followups.models import FollowUp, FollowUpLink, FollowUpMessage

    baselines = f"SELECT id FROM {FollowUp._meta.db_table} WHERE time_point = %s"  # noqa: S608
    with connection.cursor() as cursor:
        for model in (FollowUpMessage, FollowUpLink):
            table = model._meta.db_table
            cursor.execute(f"DELETE FROM {table} WHERE follow_up_id IN ({baselines})", [TimePoint.BASELINE])  # noqa: S608
        cursor.execute(f"DELETE FROM {FollowUp._meta.db_table} WHERE time_point = %s", [TimePoint.BASELINE])  # noqa: S608


def send_run(database_url: str, count: int, batch_size: int) -> dict:
    """Load ``count`` due follow-ups, send them with ``manage.py send_follow_ups`` in its own process, check each."""
    from django.db import connection

    _remove_baselines()
    loaded = load_due(count)
    ids = _due_ids()
    connection.close()  # the command's transactions should not wait on this process's connection
    command = [sys.executable, "manage.py", "send_follow_ups", "--batch-size", str(batch_size)]
    env = {**django_env(database_url), "EMAIL_URL": "dummymail://"}
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)  # noqa: S603
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"send_follow_ups exited with {process.returncode}: {output[-500:]}")
    checked = _messages_for(ids)
    return {
        "due": loaded,
        "batch_size": batch_size,
        "seconds": round(seconds, 1),
        "rows_per_s": round(loaded / seconds, 1) if seconds else None,
        # ru_maxrss is in kilobytes on Linux: the command's own peak, not the runner's.
        "peak_mb": round(usage.ru_maxrss / 1024, 1),
        "output": output.strip().splitlines()[-1] if output.strip() else "",
        **checked,
    }


def queries_per_batch(batch_sizes: tuple[int, ...] = (50, 200), rows: int = QUERY_ROWS) -> list[dict]:
    """Queries per batch of ``follow_up_send_due`` at each batch size over ``rows`` due follow-ups, in-process."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext, override_settings

    from cases.services import follow_up_send_due

    results = []
    # The run's environment names the dummy backend already (bench.server.django_env); this says so again here.
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
        _remove_baselines()
        # Once first, so that the count with nothing due is the steady one: the first run after a load
        # also moves the statuses of follow-ups whose dates have passed (bench.follow_ups' time points
        # among them), which a run that sends does not repeat, and would be subtracted from it.
        follow_up_send_due(batch_size=batch_sizes[0])
        with CaptureQueriesContext(connection) as idle:
            follow_up_send_due(batch_size=batch_sizes[0])
        for batch_size in batch_sizes:
            _remove_baselines()
            load_due(rows)
            with CaptureQueriesContext(connection) as captured:
                result = follow_up_send_due(batch_size=batch_size)
            results.append(
                {
                    "batch_size": batch_size,
                    "rows": result.sent,
                    "batches": result.batches,
                    "queries": len(captured),
                    "queries_with_nothing_due": len(idle),
                    "per_batch": (len(captured) - len(idle)) / result.batches if result.batches else None,
                }
            )
        _remove_baselines()
    return results
