"""`manage.py export_submission --output DIR|FILE.zip`: every SDTM dataset as XPT v5, define.xml and a README."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from followup.exports import submission
from followup.exports.xpt import ValueTooLong


class Command(BaseCommand):
    help = (
        "Write the submission package (every SDTM dataset as SAS XPT v5, define.xml 2.1, README.txt with row "
        "counts and SHA-256 checksums; every site, full data) to a directory or a .zip file."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", required=True, help="a directory (created if missing) or a file ending .zip")

    def handle(self, *args, **options):
        output = Path(options["output"])
        if output.suffix.lower() != ".zip" and output.exists() and not output.is_dir():
            raise CommandError(f"--output: {output} is a file; give a directory or a path ending .zip")
        progress = tqdm(total=submission.file_count(), unit=" files", disable=not sys.stderr.isatty(), file=sys.stderr)
        try:
            with progress:
                package = submission.build_into(output, channel="command", progress=progress)
        except ValueTooLong as refused:  # a SUPP-- value: the one place a long value cannot be split
            raise CommandError(str(refused)) from None
        rows = sum(f.rows or 0 for f in package.files)
        self.stderr.write(f"{len(package.files) + 1} files ({rows} rows) written to {output}")
