"""The home page: the admin index with, above Django's app list, the links the user's roles may open (the study
status dashboard; apps add theirs with `register_home_link`) and the work lists of the user's roles
(`register_work_list`; the kernel's own are below, screening adds eligibility), each drawn from a fixed number of
queries."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from edc import i18n, roles, services
from edc.admin.base import (
    WorkItem,
    WorkList,
    home_links,
    register_home_link,
    register_work_list,
    visit_page_url,
    work_lists,
)
from edc.models import DataQuery, Visit
from edc.services import dashboard

SHOWN = 15  # items drawn per list; the total says how many there are


def _visits(request):
    return roles.scope(Visit.objects.all(), request.user).select_related("subject")


def _today():
    return timezone.localdate()


def visit_list(visits, note=lambda visit: "", **filters) -> WorkList:
    """The first visits of a queryset (two queries: the items and the total), and the visit list `filters`."""
    items = [WorkItem(str(v.subject), i18n.visit_name(v.code), visit_page_url(v.pk), note(v)) for v in visits[:SHOWN]]
    more = "&".join(f"{key}={value}" for key, value in filters.items())
    return WorkList(items, visits.count(), more_url=f"{reverse('admin:edc_visit_changelist')}?{more}")


def _window(visit) -> str:
    return gettext("window {start} – {end}").format(
        start=f"{visit.window_start:%Y-%m-%d}", end=f"{visit.window_end:%Y-%m-%d}"
    )


def _done_on(visit) -> str:
    if visit.visit_datetime:
        return gettext("done {date}").format(date=f"{timezone.localtime(visit.visit_datetime):%Y-%m-%d}")
    if visit.planned_date:
        return gettext("done (planned {date})").format(date=f"{visit.planned_date:%Y-%m-%d}")
    return gettext("done")


def due_this_week(request) -> WorkList:
    return visit_list(dashboard.visits_due(_visits(request), _today()), _window, status__exact="SCHEDULED")


def overdue(request) -> WorkList:
    today = _today()

    def note(visit) -> str:
        return gettext("window closed {date} ({days} d ago)").format(
            date=f"{visit.window_end:%Y-%m-%d}", days=(today - visit.window_end).days
        )

    return visit_list(dashboard.visits_overdue(_visits(request), today), note, status__exact="SCHEDULED")


def to_sign(request) -> WorkList:
    return visit_list(dashboard.visits_to_sign(_visits(request)), _done_on, status__exact="DONE")


def to_verify(request) -> WorkList:
    return visit_list(
        dashboard.visits_to_verify(_visits(request)),
        lambda v: f"{_done_on(v)} · {int(v.visit_verified) + v.results_verified} of {1 + v.result_rows} rows verified",
        status__exact="DONE",
    )


def ready_to_lock(request) -> WorkList:
    return visit_list(dashboard.visits_ready_to_lock(_visits(request)), _done_on, status__exact="DONE")


def _queries(request):
    return roles.scope(DataQuery.objects.filter(voided=False), request.user).select_related("subject")


def query_list(queries, more_url: str, summary: str = "") -> WorkList:
    """The first queries of a queryset, each named by what it is about (one query per kind of record)."""
    shown = list(queries[:SHOWN])
    targets = services.describe_targets(shown)
    now = timezone.now()
    items = []
    for query in shown:
        target = targets[(query.target_model, query.target_id)]
        about = " · ".join(w for w in (target.visit, target.record, target.field_label(query.target_field)) if w)
        text = i18n.translated_query_text(query.text)
        note = gettext("{text} · {days} d old").format(text=text, days=(now - query.created).days)
        items.append(WorkItem(str(query.subject), about, reverse("admin:edc_dataquery_change", args=[query.pk]), note))
    return WorkList(items, queries.count(), summary, more_url)


def _query_changelist(**filters) -> str:
    query = "&".join(f"{key}={value}" for key, value in filters.items())
    return f"{reverse('admin:edc_dataquery_changelist')}?{query}"


def queries_to_answer(request) -> WorkList:
    queries = _queries(request).filter(status=DataQuery.Status.OPEN).order_by("created")
    return query_list(queries, _query_changelist(status__exact=DataQuery.Status.OPEN))


def queries_to_close(request) -> WorkList:
    queries = _queries(request).filter(status=DataQuery.Status.ANSWERED).order_by("answered_at", "created")
    return query_list(queries, _query_changelist(status__exact=DataQuery.Status.ANSWERED))


def query_ageing(request) -> WorkList:
    """Queries not closed (open or answered), oldest first, with their count per age band."""
    bands = dashboard.query_ageing(_queries(request))
    summary = " · ".join(f"{i18n.translated(label)}: {count}" for label, count in bands)
    queries = _queries(request).exclude(status=DataQuery.Status.CLOSED).order_by("created")
    return query_list(queries, reverse("admin:edc_dataquery_changelist"), summary)


register_home_link(roles.CLINICAL_READERS, _("Study status dashboard"), "admin:edc_visit_dashboard",
                   _("subjects × visits, each visit coloured by where it stands"))  # fmt: skip
register_work_list(roles.SITE_STAFF, _("Visits due this week"), due_this_week)
register_work_list(roles.SITE_STAFF, _("Overdue visits"), overdue)
register_work_list(roles.SITE_STAFF, _("Queries to answer"), queries_to_answer)
register_work_list(roles.INVESTIGATOR, _("Visits to sign"), to_sign)
register_work_list(roles.MONITOR, _("Visits to verify (SDV)"), to_verify)
register_work_list(roles.MONITOR, _("Answered queries to close"), queries_to_close)
register_work_list(roles.DATA_MANAGER, _("Query ageing (not closed)"), query_ageing)
register_work_list(roles.DATA_MANAGER, _("Visits ready to lock"), ready_to_lock)


# The role a work list is for, as its heading says it.
ROLE_LABELS = {roles.SITE_STAFF: _("site staff"), roles.INVESTIGATOR: _("investigator"), roles.MONITOR: _("monitor"),
               roles.DATA_MANAGER: _("data manager"), roles.SPONSOR_VIEWER: _("sponsor viewer")}  # fmt: skip


def home_lists(request) -> list[tuple[str, str, WorkList]]:
    """(role label, title, list) of every work list of the user's roles (a superuser's: all), in role order."""
    mine = roles.ALL_ROLES if request.user.is_superuser else roles.roles_of(request.user)
    found = []
    for role in roles.ALL_ROLES:
        if role in mine:
            found += [(ROLE_LABELS[role], title, provider(request)) for r, title, provider in work_lists()
                      if r == role]  # fmt: skip
    return found


_django_index = admin.site.index


def links_of(request) -> list[tuple[str, str, str]]:
    """(text, url, note) of the home links (`register_home_link`) the user's roles may open."""
    return [(link.text, reverse(link.url_name), link.note) for link in home_links()
            if roles.has_any_role(request.user, link.read_roles)]  # fmt: skip


def index(request, extra_context=None):
    """Django's index (the app list stays below) with the links of the user's roles (the dashboard, apps'
    pages) and the user's work lists above."""
    home = {"home_links": links_of(request), "work_lists": home_lists(request)}
    return _django_index(request, {**home, **(extra_context or {})})


admin.site.index = index
admin.site.index_template = "admin/edc/index.html"
