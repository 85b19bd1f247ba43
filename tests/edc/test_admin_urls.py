"""Every admin URL × every role, and a user of another site: the status the README's role table promises.

The URLs are walked from `admin.site.get_urls()` (each ModelAdmin's own and custom URLs included), so a new admin
page, model admin or app without an expected status below fails the test. Each URL is opened with GET, its
arguments filled from one treated subject's casebook (tests/casebook.py) and a row of every other admin model.

Expected (README, "Roles" → "In the admin"):
- a page the role may read: 200; a page the role may not open: 403 (a refusal, never a redirect to the index);
- a row of another site, for a user whose roles would allow the page: 404, as in the API (the role is checked
  first, then the site);
- Django's own pages answer as Django does: the login page redirects a signed-in user to the index (302), logout
  is POST only (405), the autocomplete endpoint without its parameters is 403, "view on site" is 404 (no model
  has a public page), an app index with none of the role's pages is 404, and so is an unknown admin path;
  `<object_id>/` redirects to the change page (302), which then applies the rules above.
A user that is not signed in is redirected to the login page (302) everywhere (tested once at the end).
"""

import datetime as dt
import re
from dataclasses import dataclass

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, reverse
from django.utils import formats, timezone
from rest_framework.authtoken.models import Token

from edc import roles, services
from edc.models import LabResult, Lock, Site, Subject, Visit
from followup.models import ExportLog, Milestone
from screening.models import EligibilityDecision
from tests import factories
from tests.casebook import treated_casebook

pytestmark = pytest.mark.django_db

ALL, NONE = frozenset(roles.ALL_ROLES), frozenset()
CLINICAL, ENTRY = roles.CLINICAL_READERS, roles.DATA_ENTRY
DM = frozenset({roles.DATA_MANAGER})
DECIDERS = frozenset({roles.INVESTIGATOR, roles.DATA_MANAGER})
PLOT_READERS = CLINICAL | {roles.INVESTIGATOR, roles.DATA_MANAGER, roles.SPONSOR_VIEWER}

# model → (roles that read its pages, roles that open its add page), as the README's role table says.
CRF = (CLINICAL, ENTRY)
POLICY = {
    "auth.Group": (NONE, NONE),  # superusers only
    "auth.User": (NONE, NONE),
    "authtoken.TokenProxy": (NONE, NONE),
    "edc.Site": (ALL, NONE),
    "edc.Subject": CRF,
    "edc.Visit": CRF,
    "edc.LabResult": CRF,
    "edc.DataQuery": (CLINICAL, NONE),  # raised on a field, not from a blank form
    "edc.Signature": (CLINICAL, NONE),
    "edc.SourceVerification": (CLINICAL, NONE),
    "edc.Lock": (CLINICAL, DM),
    "edc.Deviation": (CLINICAL, ENTRY | DM),  # recorded by the site and by data management
    "screening.Consent": CRF,
    "screening.SleHistory": CRF,
    "screening.Medication": CRF,
    "screening.SledaiAssessment": CRF,
    "screening.ScreeningExam": CRF,
    "screening.EligibilityDecision": (CLINICAL, NONE),  # the investigator's signed confirmation only
    "infusion.Apheresis": CRF,
    "infusion.ProductLot": CRF,
    "infusion.LymphodepletionDose": CRF,
    "infusion.Infusion": CRF,
    "followup.AdverseEvent": CRF,
    "followup.AdverseEventTreatment": CRF,
    "followup.PrednisoneDose": CRF,
    "followup.Milestone": (CLINICAL, NONE),  # computed by the scan
    "followup.ExportLog": (DM, NONE),
    # Sign-in records (django-axes, 21 CFR 11.300(d)): read by data managers, written by sign-ins only.
    "axes.AccessAttempt": (DM, NONE),
    "axes.AccessFailureLog": (DM, NONE),
    "axes.AccessLog": (DM, NONE),
}

# A model admin's page (its URL name after `<app>_<model>_`) → who gets 200, from the model's (read, add) roles.
MODEL_PAGES = {
    "changelist": lambda read, add: read,
    "change": lambda read, add: read,
    "history": lambda read, add: read,
    "simple_history": lambda read, add: read,  # one past version
    "add": lambda read, add: add,
    "delete": lambda read, add: NONE,  # voided, never deleted
    "password_change": lambda read, add: add,  # auth.User: superusers only
    "raise_query": lambda read, add: roles.QUERY_RAISERS,
    "sign": lambda read, add: roles.SIGNERS,
    "verify": lambda read, add: frozenset({roles.MONITOR}),  # a visit verified with its results (SDV)
    "off_study": lambda read, add: roles.SIGNERS,  # the investigator's decision
    "eligibility": lambda read, add: roles.SIGNERS,  # the investigator's eligibility confirmation (screening's page)
    "audit_trail": lambda read, add: read,
    "crf": lambda read, add: read,  # the visit CRF page (followup's register_visit_page)
    "dashboard": lambda read, add: read,  # the study status dashboard (visits: subjects × visit codes)
    "confirm": lambda read, add: DECIDERS,  # a proposed deviation, confirmed or dismissed
    "dismiss": lambda read, add: DECIDERS,
    "activity_plot": lambda read, add: read,  # the disease-activity plot (followup's register_subject_page)
    "pkpd_plot": lambda read, add: read,  # the subject page's PK/PD plot (followup's register_subject_page)
}
# Pages of a model admin named for themselves (not `<app>_<model>_…`) → who gets 200.
NAMED_PAGES = {
    "followup_investigator": PLOT_READERS,  # the cohort PK overlay (pseudonymised)
    "followup_exports": frozenset({roles.INVESTIGATOR, roles.DATA_MANAGER, roles.SPONSOR_VIEWER}),  # the form
    "followup_submission": frozenset({roles.DATA_MANAGER}),  # the submission package (full data)
}
# The admin site's own pages → a status for everyone, or who gets 200 (others 403).
SITE_PAGES = {
    "index": ALL,
    "login": 302,
    "logout": 405,
    "password_change": ALL,
    "password_change_done": ALL,
    "jsi18n": ALL,
    "autocomplete": 403,
    "view_on_site": 404,
}
# An app's index → who may read one of its models (others 404, Django's answer for an app with none of their
# pages; the cohort overlay is a page, not a model, so the sponsor viewer has no follow-up index).
APP_INDEX = {"auth": NONE, "authtoken": NONE, "edc": ALL, "screening": CLINICAL, "infusion": CLINICAL,
             "followup": CLINICAL, "axes": DM}  # fmt: skip


@dataclass(frozen=True)
class Case:
    url: str
    page: str  # what a failure names
    allowed: frozenset | int | None  # who gets 200, or one status for everyone; None: no expectation
    scoped_row: bool = False  # the URL names a row of the casebook's site
    refused: int = 403  # the status of a role the page is not for


def walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def model_of_prefix(prefix: str):
    for model, model_admin in admin.site._registry.items():
        if prefix == f"{model._meta.app_label}/{model._meta.model_name}/":
            return model, model_admin
    return None, None


def fill(route: str, values: dict) -> str:
    return "/admin/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), route)


def cases(rows: dict) -> list[Case]:
    """One case per admin URL (an app index once per app), its arguments from `rows` (model label → a row)."""
    found = []
    for top in admin.site.get_urls():
        if isinstance(top, URLResolver):
            model, _ = model_of_prefix(str(top.pattern))
            found += model_cases(model, top, rows)
        else:
            found += site_cases(top, rows)
    return found


def site_cases(pattern: URLPattern, rows: dict) -> list[Case]:
    route, name = str(pattern.pattern), pattern.name
    if name == "app_list":
        labels = re.search(r"\(\?P<app_label>([^)]*)\)", route).group(1).split("|")
        return [Case(reverse("admin:app_list", args=[a]), f"app index {a}", APP_INDEX.get(a), refused=404)
                for a in labels]  # fmt: skip
    if name is None and route == "(?P<url>.*)$":  # Django's catch-all: an unknown admin path
        return [Case("/admin/no-such-page/", "unknown admin path", 404)]
    subject = rows["edc.Subject"]
    values = {"content_type_id": ContentType.objects.get_for_model(Subject).pk, "object_id": subject.pk}
    return [Case(fill(route, values), f"admin:{name or route}", SITE_PAGES.get(name))]


def model_cases(model, resolver: URLResolver, rows: dict) -> list[Case]:
    label = model._meta.label
    row = rows.get(label)
    read, add = POLICY.get(label, (None, None))
    scoped = hasattr(model, "site_lookup")
    prefix = str(resolver.pattern)
    found = []
    for route, pattern in walk(resolver.url_patterns, prefix):
        name = pattern.name
        kind = (name or "").removeprefix(f"{model._meta.app_label}_{model._meta.model_name}_")
        takes_row = "<" in route or "(" in route
        if takes_row and row is None:
            found.append(Case(route, f"{label} {name}: no row of this model in the test's casebook", None))
            continue
        if name is None:  # `<object_id>/`: Django redirects to the change page
            found.append(Case(fill(route, {"object_id": row.pk}), f"{label} {route}", 302))
            continue
        if kind == "simple_history":
            url = reverse(f"admin:{name}", args=[row.pk, row.history.order_by("history_id").first().history_id])
        elif takes_row:
            url = fill(route, {"pk": row.pk, "object_id": row.pk, "id": row.pk})
        else:
            url = fill(route, {})
        if name in NAMED_PAGES:
            allowed = NAMED_PAGES[name]
        elif kind in MODEL_PAGES and read is not None:
            allowed = MODEL_PAGES[kind](read, add)
        else:
            allowed = None
        found.append(Case(url, f"{label} {kind or route}", allowed, scoped_row=takes_row and scoped))
    return found


def expected(case: Case, user_roles: frozenset, other_site: bool) -> int | None:
    if case.allowed is None or isinstance(case.allowed, int):
        return case.allowed
    if not user_roles & case.allowed:
        return case.refused
    return 404 if other_site and case.scoped_row else 200


@pytest.fixture
def rows(site, staff, investigator, monitor, data_manager) -> dict:
    """A row of every admin model at site 01: the treated casebook plus what the other screens list."""
    subject = factories.make_subject(site, staff, date_of_birth=dt.date(1961, 8, 23), initials="QJXW")
    treated_casebook(subject, staff)
    visit = Visit.objects.get(subject=subject, code="D7")
    result = LabResult.objects.filter(subject=subject).first()
    services.open_query(result, "value", "please check the unit", user=monitor)
    services.sign(visit, "REVIEWED", user=investigator, password=factories.PASSWORD)
    services.verify_source(result, user=monitor)
    services.lock(Lock.Level.VISIT, visit=Visit.objects.get(subject=subject, code="D28"), reason="reviewed",
                  user=data_manager)  # fmt: skip
    EligibilityDecision.objects.create(subject=subject, evaluation_date=subject.created.date(), eligible=True,
                                       decided_by=investigator)  # fmt: skip
    if not Milestone.objects.filter(subject=subject).exists():
        Milestone.objects.create(subject=subject, kind=Milestone.Kind.MONTH_12, date=timezone.localdate(),
                                 raised_at=timezone.now())  # fmt: skip
    ExportLog.objects.create(user=data_manager, started_at=timezone.now(), dataset="pkpd", format="csv")
    Token.objects.create(user=staff)
    # Rows of the sign-in records: a failure (kept: a success would reset its account's count) and a sign-in.
    for username, password in ((monitor.username, "not-the-password"), (staff.username, factories.PASSWORD)):
        Client().post(reverse("admin:login"), {"username": username, "password": password})
    found = {"auth.Group": Group.objects.first(), "auth.User": staff, "edc.Site": site}
    for model in admin.site._registry:
        if model._meta.label not in found:
            queryset = model._default_manager.all()
            scoped = roles.scope(queryset, staff) if hasattr(model, "site_lookup") else queryset
            found[model._meta.label] = scoped.first()
    found["edc.Subject"] = subject
    return found


def identified(subject: Subject) -> list[str]:
    dob = subject.date_of_birth
    return [subject.initials, dob.isoformat(), formats.date_format(dob), formats.date_format(dob, "SHORT_DATE_FORMAT")]


USERS = [*[(role, role) for role in roles.ALL_ROLES], ("another site's user (every role)", None)]


@pytest.mark.parametrize(("who", "role"), USERS, ids=[who for who, _ in USERS])
def test_every_admin_url_answers_each_role_as_the_readme_says(who, role, rows, make_user, other_site):
    site = Site.objects.get(code="01")
    user = make_user(role, site) if role else make_user(roles.SITE_STAFF, other_site)
    if role is None:
        user.groups.set(Group.objects.filter(name__in=roles.ALL_ROLES))
    user_roles = frozenset(user.groups.values_list("name", flat=True))
    client = Client(raise_request_exception=False)
    client.force_login(user)
    subject = rows["edc.Subject"]
    all_cases = cases(rows)
    assert len(all_cases) > 150  # the walk found the model admins' URLs
    wrong = []
    for case in all_cases:
        want = expected(case, user_roles, other_site=role is None)
        if want is None:
            wrong.append(f"{case.page} ({case.url}): no expected status; add it to this test and the README")
            continue
        response = client.get(case.url)
        if response.status_code != want:
            wrong.append(f"{case.page} {case.url}: {response.status_code}, expected {want}")
        elif response.status_code == 200 and response.get("Content-Type", "").startswith("text/"):
            body = response.content.decode()
            leaked = [v for v in identified(subject) if v in body] if role == roles.SPONSOR_VIEWER else []
            if role is None and subject.subject_id in body:
                leaked.append(subject.subject_id)
            if leaked:
                wrong.append(f"{case.page} {case.url}: shows {leaked}")
    assert not wrong, "\n".join(wrong)


def test_an_anonymous_visitor_is_sent_to_the_login_page(rows):
    client = Client(raise_request_exception=False)
    for case in cases(rows):
        if case.allowed is None or isinstance(case.allowed, int) or case.url.startswith("/admin/jsi18n"):
            continue
        response = client.get(case.url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), case
