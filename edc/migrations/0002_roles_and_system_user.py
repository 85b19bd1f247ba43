"""The five roles as groups, and the named system user that jobs and automatic queries write as."""

from django.db import migrations

ROLES = ("site_staff", "investigator", "monitor", "data_manager", "sponsor_viewer")
SYSTEM_USERNAME = "edc-system"


def create(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    User = apps.get_model("auth", "User")
    for name in ROLES:
        Group.objects.get_or_create(name=name)
    User.objects.get_or_create(
        username=SYSTEM_USERNAME, defaults={"is_active": False, "first_name": "EDC", "last_name": "system"}
    )


def remove(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [("edc", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(create, remove)]
