"""`manage.py export_odm --output casebook.xml [--subject ID]`: the ODM casebook (every site) to a file."""

import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from followup import odm
from followup.exports import ExportNotFound


class Command(BaseCommand):
    help = "Write the casebook as CDISC ODM 1.3.2 (every site, with its audit trail and signatures), streamed."

    def add_arguments(self, parser):
        parser.add_argument("--output", required=True, help="file to write, or - for standard output")
        parser.add_argument("--subject", default="", help="one subject_id (default: the whole study)")

    def handle(self, *args, **options):
        try:
            request = odm.odm_request(None, options["subject"].strip())
        except ExportNotFound as missing:
            raise CommandError(f"--{missing.parameter}: {missing}") from None
        to_stdout = options["output"] == "-"
        total = request.scope.subjects().count()
        progress = tqdm(total=total, unit=" subjects", disable=to_stdout or not sys.stderr.isatty(), file=sys.stderr)
        output = sys.stdout.buffer if to_stdout else open(options["output"], "wb")  # noqa: SIM115 - closed below
        try:
            written = odm.write_odm(output, request, progress=progress)
        finally:
            progress.close()
            if not to_stdout:
                output.close()
        if not to_stdout:
            self.stderr.write(f"{written} subjects written to {options['output']}")
