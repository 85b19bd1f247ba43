"""The demo cohort's kernel: a site, one user per role, and the trial's subjects.

`seed_demo` runs the steps named in settings.DEMO_STEPS in order; each later app appends its own
step (a function taking the `DemoCohort`) so that `make run` always shows a realistic cohort.
"""

from __future__ import annotations

import datetime as dt
import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from edc import roles, services
from edc.models import Site, Subject

DEMO_SITE = {"code": "01", "name": "First Affiliated Hospital, Zhejiang University School of Medicine"}
# username → (role, password); printed by seed_demo and by `make run`.
DEMO_USERS = {
    "staff": (roles.SITE_STAFF, "demo-staff-1019"),
    "investigator": (roles.INVESTIGATOR, "demo-investigator-1019"),
    "monitor": (roles.MONITOR, "demo-monitor-1019"),
    "datamanager": (roles.DATA_MANAGER, "demo-datamanager-1019"),
    "sponsor": (roles.SPONSOR_VIEWER, "demo-sponsor-1019"),
}
ADMIN_USER = ("admin", "demo-admin-1019")


@dataclass
class DemoCohort:
    site: Site
    users: dict  # role → user
    rng: random.Random
    today: dt.date
    size: int
    log: Callable[[str], None]
    subjects: list[Subject] = field(default_factory=list)
    show_progress: bool = False

    def progress(self, items: list, what: str):
        """The items, with a progress bar on a terminal (scale cohorts take minutes)."""
        if not self.show_progress:
            return items
        from tqdm import tqdm

        return tqdm(items, desc=what, unit="subject")


def seed_site_and_users() -> tuple[Site, dict]:
    site, _ = Site.objects.get_or_create(code=DEMO_SITE["code"], defaults={"name": DEMO_SITE["name"]})
    user_model = get_user_model()
    users = {}
    for username, (role, password) in DEMO_USERS.items():
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"is_staff": True, "first_name": username.capitalize(), "last_name": "Demo"}
        )
        if created:
            user.set_password(password)
            user.save()
        user.groups.add(Group.objects.get(name=role))
        site.users.add(user)
        users[role] = user
    if not user_model.objects.filter(username=ADMIN_USER[0]).exists():
        user_model.objects.create_superuser(ADMIN_USER[0], "admin@localhost", ADMIN_USER[1])
    return site, users


def seed_subjects(cohort: DemoCohort) -> None:
    """The kernel's step: register `cohort.size` subjects at the demo site."""
    rng, staff = cohort.rng, cohort.users[roles.SITE_STAFF]
    for _ in range(cohort.size):
        age_days = rng.randint(18 * 366, 65 * 365)
        sex = rng.choice([Subject.Sex.FEMALE] * 9 + [Subject.Sex.MALE])  # SLE is ~90 % female
        subject = Subject(
            site=cohort.site,
            sex=sex,
            date_of_birth=cohort.today - dt.timedelta(days=age_days),
            childbearing_potential=sex == Subject.Sex.FEMALE and age_days < 50 * 365,
            initials="".join(rng.choices(string.ascii_uppercase, k=2)),
        )
        cohort.subjects.append(services.register_subject(subject, user=staff))
    cohort.log(f"Registered {cohort.size} subjects at site {cohort.site.code}.")
