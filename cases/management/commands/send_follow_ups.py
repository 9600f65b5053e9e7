"""Send every follow-up message that is due: run it from cron or a systemd timer every few minutes.

Idempotent (a message is sent once per due time, and nothing after completion or the window's close)
and safe when two runs overlap (``cases.services.follow_up_send_due`` claims its rows). Failed sends
are recorded and tried again on the next run. See docs/follow-ups.md.
"""

from django.core.management.base import BaseCommand

from cases.audit import AuditVia, acting
from cases.services import follow_up_send_due


class Command(BaseCommand):
    help = "Send the follow-up messages (first messages and reminders) that are due now."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=None, help="Rows claimed per transaction.")

    def handle(self, *args, batch_size=None, **options):
        with acting(via=AuditVia.COMMAND, label="send_follow_ups"):
            result = follow_up_send_due(batch_size=batch_size)
        self.stdout.write(
            f"Follow-up messages: {result.sent} sent, {result.failed} failed (retried next run), "
            f"{result.skipped} not sendable, in {result.batches} batch(es)."
        )
