"""`manage.py export_pkpd --dataset pkpd --format csv --output pkpd.csv [filters]`: the API's exports to a file."""

import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from followup import exports
from followup.api import ExportParamsSerializer


class Command(BaseCommand):
    help = "Write a PK/PD export (every site, full data) to a file, streamed; a progress bar on a terminal."

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True, help=f"one of {', '.join(exports.DATASETS)}")
        parser.add_argument("--format", default="csv", help=f"one of {', '.join(exports.FORMATS)}")
        parser.add_argument("--output", required=True, help="file to write, or - for standard output")
        parser.add_argument("--shape", default="long", help="pkpd: long or wide")
        parser.add_argument("--subject", action="append", default=[], help="subject_id (repeat for several)")
        parser.add_argument("--analyte", action="append", default=[], help="analyte code (repeat for several)")
        parser.add_argument("--from-day", dest="from_day")
        parser.add_argument("--to-day", dest="to_day")

    def handle(self, *args, **options):
        names = ("format", "shape", "from_day", "to_day", "subject", "analyte")
        params = {name: options[name] for name in names if options[name] not in (None, [])}
        try:
            dataset = exports.dataset_named(options["dataset"])
            serializer = ExportParamsSerializer(data=params, context={"dataset": dataset})
            if not serializer.is_valid():
                problems = (
                    f"--{name.replace('_', '-')}: {' '.join(texts)}" for name, texts in serializer.errors.items()
                )
                raise CommandError("; ".join(problems))
            request = serializer.export_request(user=None)
        except exports.ExportNotFound as missing:
            raise CommandError(f"--{missing.parameter}: {missing}") from None
        export = exports.start_export(request, channel="command")
        to_stdout = options["output"] == "-"
        progress = tqdm(export.rows, unit=" rows", disable=to_stdout or not sys.stderr.isatty(), file=sys.stderr)
        output = sys.stdout.buffer if to_stdout else open(options["output"], "wb")  # noqa: SIM115 - closed below
        try:
            for chunk in exports.write(request.format, request.columns, progress):
                output.write(chunk)
        finally:
            if not to_stdout:
                output.close()
        export.log.refresh_from_db()
        if not to_stdout:
            self.stderr.write(f"{export.log.row_count} rows of {request.dataset.name} written to {options['output']}")
