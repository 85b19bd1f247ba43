"""`manage.py import_odm casebook.xml [--user NAME]`: an ODM casebook of `export_odm` into an empty database."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from edc.services.crf import system_user
from followup.odm.importer import ImportRefused, import_casebook


class Command(BaseCommand):
    help = "Recreate the sites, subjects and clinical rows of an ODM 1.3.2 casebook in a database with no subject."

    def add_arguments(self, parser):
        parser.add_argument("file", help="the ODM file written by export_odm")
        parser.add_argument("--user", default="", help="who imports (their history names them); default edc-system")

    def handle(self, *args, **options):
        user = system_user()
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"--user: no user {options['user']!r}")
        try:
            result = import_casebook(options["file"], user=user)
        except (ImportRefused, OSError) as refused:
            raise CommandError(str(refused)) from None
        by_model = ", ".join(f"{label} {count}" for label, count in result.rows.items())
        self.stdout.write(
            f"{result.sites} sites, {result.users} new users, {sum(result.rows.values())} rows ({by_model}), "
            f"{result.signatures} signatures imported"
        )
