"""Send every follow-up message that is due: run it from cron or a systemd timer every few minutes.

Idempotent (a message is sent once per due time, and nothing after completion or the window's close)
and safe when two runs overlap (``cases.services.follow_up_send_due`` claims its rows). Failed sends
are recorded and tried again on the next run. ``--every N`` keeps running, one pass every N seconds,
which is how ``make run`` serves the demo without a cron. See docs/follow-ups.md.
"""

import time

from django.core.management.base import BaseCommand, CommandError

from cases.audit import AuditVia, acting
from cases.demo import whole_number
from cases.services import follow_up_send_due


class Command(BaseCommand):
    help = "Send the follow-up messages (first messages and reminders) that are due now."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", default=None, help="Rows per transaction.")
        parser.add_argument(
            "--every",
            default=None,
            metavar="SECONDS",
            help="Keep running: one pass every SECONDS (for development; production runs it from a timer).",
        )

    def handle(self, *args, batch_size=None, every=None, **options):
        try:
            if batch_size is not None:
                batch_size = whole_number(batch_size, option="--batch-size", minimum=1, maximum=100_000)
            if every is not None:
                every = whole_number(every, option="--every", minimum=1, maximum=86_400)
        except ValueError as error:
            raise CommandError(str(error)) from None
        while True:
            self._send(batch_size)
            if every is None:
                return
            try:
                time.sleep(every)
            except KeyboardInterrupt:
                return

    def _send(self, batch_size: int | None) -> None:
        with acting(via=AuditVia.COMMAND, label="command:send_follow_ups"):
            result = follow_up_send_due(batch_size=batch_size)
        self.stdout.write(
            f"Follow-up messages: {result.sent} sent, {result.failed} failed (retried next run), "
            f"{result.skipped} not sendable, in {result.batches} batch(es)."
        )
