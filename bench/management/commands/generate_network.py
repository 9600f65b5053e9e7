"""`manage.py generate_network`: bulk-load a synthetic regional network of clinics for benchmarks."""

import sys
import time
import zoneinfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from bench import network
from cases import demo


class Command(BaseCommand):
    help = (
        "Bulk-load a synthetic network of clinics (default 200,000 presentations, about 1.2 million visits and "
        "treatments) whose histories walk the treatment ladder, for benchmarks. Refuses a database whose "
        "network clinics already hold patients."
    )

    def add_arguments(self, parser):
        parser.add_argument("--presentations", default=network.DEFAULT_PRESENTATIONS, help="Presentations to load.")
        parser.add_argument("--clinics", default=network.DEFAULT_CLINICS, help="Clinics to spread them over.")
        parser.add_argument("--seed", default=demo.DEFAULT_SEED, help="Random seed.")
        parser.add_argument("--today", default=None, help="Reference date YYYY-MM-DD (default: the clinics' today).")
        parser.add_argument(
            "--long-follow-ups", default=3, help="Presentations followed weekly for 100 visits (for timelines)."
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (it is off when not a TTY).")

    def handle(self, *args, **options):
        try:
            presentations = demo.whole_number(
                options["presentations"], option="--presentations", minimum=1, maximum=10_000_000
            )
            clinics = demo.whole_number(options["clinics"], option="--clinics", minimum=1, maximum=1000)
            seed = demo.whole_number(options["seed"], option="--seed", minimum=0, maximum=2**63 - 1)
            long_follow_ups = demo.whole_number(
                options["long_follow_ups"], option="--long-follow-ups", minimum=0, maximum=1000
            )
            today = demo.reference_day(options["today"])
        except ValueError as error:
            raise CommandError(str(error)) from None
        clinics_today = timezone.localdate(timezone=zoneinfo.ZoneInfo(settings.CLINIC_DEFAULT_TIME_ZONE))
        if today is None:
            today = clinics_today
        elif today > clinics_today:
            raise CommandError(f"--today cannot be in the future: the clinics' today is {clinics_today.isoformat()}.")

        started = time.monotonic()
        show = not options["no_progress"] and sys.stderr.isatty()
        with tqdm(total=presentations, unit="presentation", disable=not show, file=sys.stderr) as bar:
            try:
                summary = network.generate(
                    presentations=presentations,
                    clinics=clinics,
                    seed=seed,
                    today=today,
                    long_follow_ups=long_follow_ups,
                    on_presentations=bar.update,
                )
            except network.NetworkExists as error:
                raise CommandError(str(error)) from None
        self.stdout.write(f"{summary.line()} ({time.monotonic() - started:.1f} s)")
