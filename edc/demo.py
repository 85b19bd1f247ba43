"""The demo cohort's kernel: a site, one user per role, and the trial's subjects.

`seed_demo` runs the steps named in settings.DEMO_STEPS in order; each later app appends its own
step (a function taking the `DemoCohort`) so that `make run` always shows a realistic cohort.
"""

from __future__ import annotations

import datetime as dt
import random
import string
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Max
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from edc import roles, rules, services
from edc.models import AuditedModel, DataQuery, Deviation, LabResult, Lock, Signature, Site, Subject, Visit
from edc.services import dashboard

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
    scale_to: int = 0  # copies bring the cohort to this size (scale_out)

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


def seed_deviations(cohort: DemoCohort) -> None:
    """The deviation log after follow-up: of the visit-window proposals the late demo visits raised, the data
    manager confirms the first and the investigator dismisses the second; site staff record a consent deviation."""
    proposed = Deviation.objects.filter(
        subject__in=cohort.subjects, status=Deviation.Status.PROPOSED, category=Deviation.Category.VISIT_WINDOW
    ).order_by("deviation_date", "id")
    proposals = list(proposed[:2])
    if proposals:
        confirmed = services.confirm_deviation(proposals[0], user=cohort.users[roles.DATA_MANAGER])
        confirmed.corrective_action = "visit reminders by phone two days before each window opens"
        services.record_deviation(confirmed, user=cohort.users[roles.DATA_MANAGER], reason="corrective action agreed")
    if len(proposals) > 1:
        services.dismiss_deviation(
            proposals[1],
            user=cohort.users[roles.INVESTIGATOR],
            reason="visit moved for a public holiday, agreed in advance with the sponsor",
        )
    treated = Subject.objects.filter(pk__in=[s.pk for s in cohort.subjects], status=Subject.Status.TREATED)
    consented = treated.order_by("subject_id").first() or cohort.subjects[0]
    consent = Deviation(
        subject=consented, category=Deviation.Category.CONSENT, severity=Deviation.Severity.MAJOR,
        deviation_date=cohort.today - dt.timedelta(days=30), reported_to_ec=True,
        reported_to_ec_date=cohort.today - dt.timedelta(days=25),
        description="Screening CBC drawn before the subject signed the current informed consent form (v3.0)",
        corrective_action="subject re-consented on v3.0; staff retrained on consent before any study procedure",
    )  # fmt: skip
    services.record_deviation(consent, user=cohort.users[roles.SITE_STAFF])
    cohort.log(f"Deviation log: {Deviation.objects.filter(subject__in=cohort.subjects).count()} entries.")


# --- Dates as the records were made -------------------------------------------------------------

# The ages of the demo's open queries, in days: spread over some nine weeks so that every band of the data
# manager's query ageing has some.
QUERY_AGE_DAYS = (0, 2, 5, 9, 13, 18, 24, 33, 41, 52, 63)


def backdate(row: AuditedModel, moment: dt.datetime, **fields) -> None:
    """Demo only: a row entered at `moment` (its created and modified, its history, and `fields`) rather than
    at seeding time, so that the demo's audit trail reads as the trial's would. Past the write path on purpose:
    seeding writes the rows today, the trial would have written them then."""
    type(row).objects.filter(pk=row.pk).update(created=moment, modified=moment, **fields)
    row.history.update(history_date=moment, **fields)  # the history holds the same values as the row


def spread_query_ages(cohort: DemoCohort) -> None:
    """The open queries raised over weeks (`QUERY_AGE_DAYS`), never before the result they query was drawn."""
    now = timezone.now()
    not_closed = DataQuery.objects.filter(subject__in=cohort.subjects, voided=False).exclude(status="CLOSED")
    queries = list(not_closed.order_by("pk"))
    drawn = dict(LabResult.objects.filter(pk__in=[q.target_id for q in queries if q.target_model == "edc.labresult"])
                 .values_list("pk", "sample_datetime"))  # fmt: skip
    for query in queries:
        raised = now - dt.timedelta(days=cohort.rng.choice(QUERY_AGE_DAYS), hours=cohort.rng.randint(0, 8))
        sample = drawn.get(query.target_id) if query.target_model == "edc.labresult" else None
        backdate(query, min(now, max(raised, sample + dt.timedelta(hours=6))) if sample else raised)
    cohort.log(f"Spread the raising of {len(queries)} open queries over {QUERY_AGE_DAYS[-1] // 7} weeks.")


# --- Monitoring and data management ------------------------------------------------------------

# How far the trial's monitoring has come in the demo, so that the dashboard shows every state of its legend: the
# monitor has verified against source every visit done over SDV_AFTER_DAYS ago without an open query, the
# investigator has reviewed and signed the SIGNED_VISITS first of them (each signature asks the password again,
# which is slow by design), and data management has locked the LOCKED_VISITS first signed ones.
SDV_AFTER_DAYS = 60
SIGNED_VISITS = 10
LOCKED_VISITS = 3


def seed_monitoring(cohort: DemoCohort) -> None:
    verified_before = timezone.now() - dt.timedelta(days=SDV_AFTER_DAYS)
    visits = Visit.objects.filter(subject__in=cohort.subjects, visit_datetime__lt=verified_before)
    quiet = list(dashboard.done_visits(visits).filter(open_queries=0).order_by(*dashboard.DONE_ORDER))
    monitor, investigator = cohort.users[roles.MONITOR], cohort.users[roles.INVESTIGATOR]
    for visit in quiet:
        services.verify_visit(visit, user=monitor)
    password = DEMO_USERS[investigator.username][1]
    signed = quiet[:SIGNED_VISITS]
    for visit in signed:
        services.sign(visit, Signature.Meaning.REVIEWED, user=investigator, password=password)
    for visit in signed[:LOCKED_VISITS]:
        services.lock(Lock.Level.VISIT, visit=visit, reason="visit cleaned: verified and signed",
                      user=cohort.users[roles.DATA_MANAGER])  # fmt: skip
    cohort.log(f"Monitoring: {len(quiet)} visits verified, {len(signed)} signed, {min(len(signed), LOCKED_VISITS)} "
               "locked.")  # fmt: skip


# --- Scale data ---------------------------------------------------------------------------------

# Subjects keyed one by one through the services; a larger cohort copies them in bulk.
KEYED_SUBJECTS = 36


def scale_out(cohort: DemoCohort, batch_subjects: int = 250) -> None:
    """Grow the cohort to `cohort.scale_to` subjects by copying the keyed subjects in bulk.

    Every row a keyed subject owns (visits, CRFs, results, treatment, queries, signatures,
    milestones) is copied to a new subject with its foreign keys remapped, unique identifiers
    suffixed, and a history row per copy ("scale demo copy of M1019-01-007"). The copies are of rows
    the services already validated, so the checks are not run again: this is scale data for
    benchmarks and exports, 10,000 subjects in minutes on PostgreSQL.
    """
    copies = cohort.scale_to - len(cohort.subjects)
    if copies <= 0:
        return
    plan = _CopyPlan.for_subjects([s.pk for s in cohort.subjects])
    user = services.system_user()
    last = Subject.objects.filter(site=cohort.site).aggregate(n=Max("number"))["n"] or 0
    templates = list(Subject.objects.filter(pk__in=[s.pk for s in cohort.subjects]).order_by("number"))
    starts = range(0, copies, batch_subjects)
    for start in cohort.progress(list(starts), f"copies ×{batch_subjects}"):
        numbers = range(last + 1 + start, last + 1 + min(start + batch_subjects, copies))
        plan.copy([(templates[(n - last - 1) % len(templates)], n) for n in numbers], cohort.site, user)
    cohort.log(f"Scaled the cohort to {cohort.scale_to} subjects by copying the {len(templates)} keyed ones.")


class _CopyPlan:
    """Which models a subject owns, in an order where every row's foreign keys already exist."""

    def __init__(self, order, paths, deferred, rows):
        self.order, self.paths, self.deferred, self.rows = order, paths, deferred, rows
        self.owned = {model: self._by_subject(model) for model in order}  # model → {subject pk: [rows]}

    def _by_subject(self, model) -> dict[int, list]:
        subject_of = dict(
            model.objects.filter(pk__in=[r.pk for r in self.rows[model]]).values_list("pk", self.paths[model])
        )
        grouped = defaultdict(list)
        for row in self.rows[model]:
            grouped[subject_of[row.pk]].append(row)
        return grouped

    @classmethod
    def for_subjects(cls, subject_pks):
        paths = {Subject: "pk"}
        changed = True
        while changed:  # models reaching a subject through foreign keys, e.g. a lot through its apheresis
            changed = False
            for model in apps.get_models():
                if model in paths or not issubclass(model, AuditedModel):
                    continue
                for fk in _foreign_keys(model):
                    if fk.related_model in paths:
                        paths[model] = (
                            fk.name if fk.related_model is Subject else f"{fk.name}__{paths[fk.related_model]}"
                        )
                        changed = True
                        break
        generic = {m for m in paths if {"target_model", "target_id"} <= {f.name for f in m._meta.fields}}
        # A nullable key to a row-pointing model (a decision's signature) is filled once both exist.
        deferred = [(m, fk) for m in paths for fk in _foreign_keys(m) if fk.null and fk.related_model in generic]
        order = cls._sorted(paths, generic, deferred)
        rows = {
            model: list(model.objects.filter(**{f"{paths[model]}__in": subject_pks}).order_by("pk")) for model in order
        }
        return cls(order, paths, deferred, rows)

    @staticmethod
    def _sorted(paths, generic, deferred) -> list:
        skip = {fk for _, fk in deferred}
        needs = {
            m: {fk.related_model for fk in _foreign_keys(m) if fk.related_model in paths and fk not in skip} - {m}
            for m in paths
        }
        for m in generic:  # they point at rows of any other model
            needs[m] |= set(paths) - generic
        order = []
        while needs:
            ready = [m for m, wanted in needs.items() if wanted <= set(order)]
            order += sorted(ready, key=lambda m: m._meta.label)
            needs = {m: wanted for m, wanted in needs.items() if m not in ready}
        return order

    def copy(self, pairs: list[tuple[Subject, int]], site, user) -> None:
        """Copy each template subject to a new subject number, model by model, in bulk."""
        new_pk: dict[tuple[int, type, int], int] = {}  # (copy index, model, template pk) → copy pk
        copies: dict[tuple[int, type, int], object] = {}
        for model in self.order:
            rows, keys = [], []
            for index, (template, number) in enumerate(pairs):
                for row in self.owned[model].get(template.pk, ()):
                    rows.append(self._copied(model, row, index, number, template, site, new_pk))
                    keys.append((index, row.pk))
            reason = "scale demo copy"
            created = bulk_create_with_history(rows, model, batch_size=2000, default_user=user,
                                               default_change_reason=reason)  # fmt: skip
            for (index, old), row in zip(keys, created, strict=True):
                new_pk[(index, model, old)] = row.pk
                copies[(index, model, old)] = row
        self._link_deferred(pairs, new_pk, copies, user)

    def _copied(self, model, row, index, number, template, site, new_pk):
        skip = {fk.attname for _, fk in self.deferred if fk.model is model}
        values = {f.attname: getattr(row, f.attname) for f in model._meta.concrete_fields if not f.primary_key}
        for fk in _foreign_keys(model):
            old = values.get(fk.attname)
            if fk.attname in skip:
                values[fk.attname] = None
            elif old is not None and (index, fk.related_model, old) in new_pk:
                values[fk.attname] = new_pk[(index, fk.related_model, old)]
        if "target_model" in values:
            target = apps.get_model(values["target_model"])
            values["target_id"] = new_pk.get((index, target, values["target_id"]), values["target_id"])
        if model is Subject:
            values.update(number=number, subject_id=rules.format_subject_id(site.code, number))
        for unique in model._meta.concrete_fields:
            if unique.unique and not unique.primary_key and model is not Subject:
                values[unique.attname] = f"{values[unique.attname]}-{number}"  # product and lot identifiers
        return model(**values)

    def _link_deferred(self, pairs, new_pk, copies, user) -> None:
        for model, fk in self.deferred:
            linked = []
            for index, _ in enumerate(pairs):
                for row in self.rows[model]:
                    old_target = getattr(row, fk.attname)
                    copy = copies.get((index, model, row.pk))
                    if old_target is None or copy is None:
                        continue
                    setattr(copy, fk.attname, new_pk[(index, fk.related_model, old_target)])
                    linked.append(copy)
            if linked:
                bulk_update_with_history(linked, model, [fk.attname], batch_size=2000, default_user=user,
                                         default_change_reason="scale demo copy: link")  # fmt: skip


def _foreign_keys(model):
    return [f for f in model._meta.concrete_fields if f.is_relation and f.many_to_one]
