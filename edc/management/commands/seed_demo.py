"""Load a realistic synthetic cohort: `python manage.py seed_demo [--subjects N] [--seed S]`."""

import random

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from edc import demo
from edc.models import Subject


class Command(BaseCommand):
    help = "Create the demo site, one user per role and a synthetic cohort (skipped when already loaded)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--subjects", type=int, default=demo.KEYED_SUBJECTS,
            help="cohort size (the trial plans 36); beyond 36, the keyed subjects are copied in bulk",
        )  # fmt: skip
        parser.add_argument("--seed", type=int, default=1019, help="random seed: same seed, same cohort")

    def handle(self, *args, subjects, seed, **options):
        with transaction.atomic():
            site, users = demo.seed_site_and_users()
            if Subject.objects.filter(site=site).exists():
                self.stdout.write("Demo cohort already loaded.")
            else:
                cohort = demo.DemoCohort(
                    site=site,
                    users=users,
                    rng=random.Random(seed),
                    today=timezone.localdate(),
                    size=min(subjects, demo.KEYED_SUBJECTS),
                    scale_to=subjects,
                    log=self.stdout.write,
                    show_progress=self.stdout.isatty(),
                )
                for step in settings.DEMO_STEPS:
                    import_string(step)(cohort)
                self.stdout.write(self.style.SUCCESS(f"Loaded the demo cohort of {subjects} subjects."))
        refresh_planner_statistics()
        self.print_logins()

    def print_logins(self):
        self.stdout.write("Demo logins (username / password):")
        self.stdout.write(f"  {demo.ADMIN_USER[0]:<13} {demo.ADMIN_USER[1]:<24} superuser")
        for username, (role, password) in demo.DEMO_USERS.items():
            self.stdout.write(f"  {username:<13} {password:<24} {role}")


def refresh_planner_statistics():
    """Bulk-loaded tables keep the statistics of their empty state until autovacuum comes round: the planner would
    then scan and sort whole tables for a page of rows. ANALYZE (PostgreSQL and SQLite alike) makes them current."""
    if connection.vendor in {"postgresql", "sqlite"}:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
