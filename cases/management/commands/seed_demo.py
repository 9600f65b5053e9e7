"""`manage.py seed_demo`: fill the database with deterministic, realistic demo clinics, staff and cases."""

import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from cases import demo
from cases.audit import acting
from cases.models import Patient


class Command(BaseCommand):
    help = (
        "Create demo clinics, staff and patients whose histories walk the treatment ladder. The same options "
        "give the same dataset; a re-run only adds what is missing. Prints the password of each demo login "
        f"({', '.join(demo.DEMO_LOGIN_USERNAMES)}) once, when it creates that user."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--patients",
            default=demo.DEFAULT_PATIENTS,
            help=f"Patients to plan, spread over the clinics (default {demo.DEFAULT_PATIENTS}).",
        )
        parser.add_argument(
            "--clinics",
            default=demo.DEFAULT_CLINICS,
            help=f"Demo clinics, each with a clinic admin, 2–3 podiatrists and a reviewer (default "
            f"{demo.DEFAULT_CLINICS}).",
        )
        parser.add_argument(
            "--seed",
            default=demo.DEFAULT_SEED,
            help=f"Random seed (default {demo.DEFAULT_SEED}).",
        )
        parser.add_argument(
            "--today",
            default=None,
            help="Reference date YYYY-MM-DD that every record is dated on or before (default: the clinics' today).",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Seed only when there are no patients at all (used by `make run`).",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (it is off when not a TTY).")

    def handle(self, *args, **options):
        # Options are checked here rather than by argparse types, because call_command() passes keyword
        # options straight through: the command line and call_command() then get the same errors.
        try:
            seed_options = demo.seed_options(
                seed=options["seed"], patients=options["patients"], clinics=options["clinics"], today=options["today"]
            )
        except ValueError as error:
            raise CommandError(str(error)) from None

        if options["if_empty"]:
            existing = Patient.objects.count()
            if existing:
                self.stdout.write(f"Skipped seeding: the database already has {existing} patients (--if-empty).")
                return

        started = time.monotonic()
        show_progress = not options["no_progress"] and sys.stderr.isatty()
        with tqdm(total=seed_options.patients, unit="patient", disable=not show_progress, file=sys.stderr) as bar:
            try:
                # Every write goes through the services, which audit it: as this command, with one request id.
                with acting(label="command:seed_demo"):
                    summary = demo.seed(seed_options, on_patient=bar.update)
            except demo.DemoRefused as error:
                raise CommandError(str(error)) from error
        elapsed = time.monotonic() - started

        self.stdout.write(
            f"Seeded demo data (seed {seed_options.seed}, {seed_options.patients} patients over "
            f"{seed_options.clinics} clinics, dated up to {seed_options.today.isoformat()}) in {elapsed:.1f} s."
        )
        self.stdout.write(summary.line())
        self.stdout.write(summary.follow_up_line())
        if summary.follow_up_link:
            # The link carries a token only. The birth date it asks for is not printed beside it: it is on
            # the patient's page in the admin, one click from the follow-up's page named here.
            base = settings.FOLLOW_UP["BASE_URL"]
            self.stdout.write(
                self.style.SUCCESS(f"A demo patient's follow-up link (shown only now): {summary.follow_up_link}")
            )
            self.stdout.write(
                f"It asks for the patient's date of birth: sign in as {demo.DEMO_ADMIN_USERNAME} and open "
                f"{base}{summary.follow_up_admin_path}, then the patient's page, to read it."
            )
        else:
            self.stdout.write("No demo follow-up has its window open today, so no patient link was issued.")
        if summary.patients_skipped:
            self.stdout.write(f"Skipped {summary.patients_skipped} patients that already exist.")
        roles = {username: described for username, _, _, described in demo.DEMO_LOGINS}
        for username, password in summary.demo_logins_created.items():
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo login for {roles[username]} (shown only now, store it): "
                    f"username {username} password {password}"
                )
            )
        existing = [username for username in demo.DEMO_LOGIN_USERNAMES if username not in summary.demo_logins_created]
        if existing:
            self.stdout.write(
                f"Demo logins that already exist keep their passwords, which are not shown: {', '.join(existing)}. "
                f"Reset one with `manage.py changepassword <username>`."
            )
