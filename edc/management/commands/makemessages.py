"""Django's makemessages, which also collects the English texts the pure `rules` modules mark without Django:
`N_("…")` (a label) and `Message("…", **values)` (a message with its values); `edc.i18n` translates them where
they are shown. Run from the repo root: `manage.py makemessages -l zh_Hans` (README, "Languages")."""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=N_", "--keyword=Message"]
