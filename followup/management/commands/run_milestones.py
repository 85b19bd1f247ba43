"""`python manage.py run_milestones [--subject M1019-01-001] [--today YYYY-MM-DD]`: the scan, on demand."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from edc.models import Subject
from followup import services


class Command(BaseCommand):
    help = "Compute and store milestones now, for every treated subject or one."

    def add_arguments(self, parser):
        parser.add_argument("--subject", help="a subject_id; default every treated subject")
        parser.add_argument("--today", type=dt.date.fromisoformat, help="the day to evaluate (default: site today)")

    def handle(self, *args, subject=None, today=None, **options):
        subject_ids = None
        if subject:
            found = Subject.objects.filter(subject_id=subject).values_list("pk", flat=True).first()
            if found is None:
                raise CommandError(f"no subject {subject}")
            subject_ids = [found]
        result = services.scan_milestones(today or timezone.localdate(), subject_ids=subject_ids)
        self.stdout.write(
            f"Scanned {result.subjects} treated subject(s): {len(result.raised)} raised, "
            f"{result.updated} updated, {result.revoked} revoked."
        )
        for milestone in result.raised:
            self.stdout.write(f"  {milestone.subject_id} {milestone.kind} {milestone.date} {milestone.detail}")
