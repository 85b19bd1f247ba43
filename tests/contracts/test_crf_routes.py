"""The contract every CRF route keeps, generated from the router: whatever a route holds, the same rules.

Roles as the README's role table promises them, another site's row unknown (404), `If-Match` required (428) and
checked (412), a reason for every change after first entry (400), a void that keeps the row and its history, and
a list that costs the same number of queries at 1 and at 20 rows.
"""

import pytest

from edc import roles
from tests.casebook import CRF_ROUTES, treated_casebook, viewset_of

pytestmark = pytest.mark.django_db

# One field each route's serializer accepts, with a value other than the casebook's: an update that changes data.
EDITS = {
    "subjects": {"initials": "ZZ"},
    "visits": {"status": "MISSED"},
    "lab-results": {"lab_name": "Another lab"},
    "consents": {"icf_version": "9.9"},
    "sle-history": {"active_on_regimen_since": "2024-07-01"},
    "medications": {"drug": "hydroxychloroquine sulfate"},
    "sledai": {"pga": 2.5},
    "screening-exams": {"weight_kg": 61.3},
    "apheresis": {"processed_volume_l": 9.9},
    "product-lots": {"viability_pct": 90.1},
    "lymphodepletion": {"weight_kg": 61.3},
    "infusions": {"premedication": "paracetamol 1 g"},
    "adverse-events": {"term": "Cytokine release syndrome, grade 1"},
    "prednisone-doses": {"prednisone_mg_per_day": 6},
    "deviations": {"corrective_action": "re-consented on the current ICF"},
    # another medication given for the CRS (an id: read from the casebook)
    "adverse-event-treatments": lambda book: {"medication": book["another CRS medication"]},
}
# Who writes a route, where it is not the role table's site staff and investigators.
WRITERS = {"deviations": roles.DATA_ENTRY | {roles.DATA_MANAGER}}  # data management records what review finds


def edit_of(route: str, book: dict) -> dict:
    edit = EDITS[route]
    return edit(book) if callable(edit) else edit


def test_every_crf_route_has_an_edit():
    assert sorted(EDITS) == sorted(CRF_ROUTES)


@pytest.fixture
def book(staff, subject):
    return treated_casebook(subject, staff)


@pytest.fixture
def apis(client_for, make_user, site, other_site, staff, investigator, monitor, data_manager):
    """An API client per role at the subject's site, and site staff of another site."""
    sponsor = make_user(roles.SPONSOR_VIEWER, site, username="sponsor")
    elsewhere = make_user(roles.SITE_STAFF, other_site, username="elsewhere")
    users = {roles.SITE_STAFF: staff, roles.INVESTIGATOR: investigator, roles.MONITOR: monitor,
             roles.DATA_MANAGER: data_manager, roles.SPONSOR_VIEWER: sponsor, "other site": elsewhere}  # fmt: skip
    return {name: client_for(user) for name, user in users.items()}


def detail(route: str, book: dict) -> str:
    return f"/api/v1/{route}/{book[route]}/"


def etag(api, url: str) -> str:
    response = api.get(url)
    assert response.status_code == 200, response.content
    return response["ETag"]


@pytest.mark.parametrize("route", CRF_ROUTES)
def test_each_role_reads_and_writes_as_the_role_table_promises(route, book, apis):
    url = detail(route, book)
    for role in roles.ALL_ROLES:
        api = apis[role]
        reads, writes = role in roles.CLINICAL_READERS, role in WRITERS.get(route, roles.DATA_ENTRY)
        assert api.get(f"/api/v1/{route}/").status_code == (200 if reads else 403), role
        assert api.get(url).status_code == (200 if reads else 403), role
        # An empty body: a writer is told what is missing (400), anyone else is refused before (403).
        assert api.post(f"/api/v1/{route}/", {}).status_code == (400 if writes else 403), role


@pytest.mark.parametrize("route", CRF_ROUTES)
def test_another_sites_row_is_unknown(route, book, apis):
    url = detail(route, book)
    other = apis["other site"]
    assert other.get(f"/api/v1/{route}/").json()["results"] == []
    assert other.get(url).status_code == 404
    assert other.patch(url, {**edit_of(route, book), "change_reason": "x"}, HTTP_IF_MATCH='"1"').status_code == 404
    assert other.delete(url, {"change_reason": "x"}).status_code == 404


@pytest.mark.parametrize("route", CRF_ROUTES)
def test_updates_are_versioned_and_need_a_reason(route, book, apis):
    api, url = apis[roles.SITE_STAFF], detail(route, book)
    current = etag(api, url)
    version = int(current.strip('"'))
    assert api.patch(url, {**edit_of(route, book), "change_reason": "x"}).status_code == 428
    stale = api.patch(url, {**edit_of(route, book), "change_reason": "x"}, HTTP_IF_MATCH=f'"{version + 7}"')
    assert (stale.status_code, stale["ETag"]) == (412, current)
    unexplained = api.patch(url, edit_of(route, book), HTTP_IF_MATCH=current)
    assert unexplained.status_code == 400 and "change_reason" in unexplained.json(), unexplained.content
    assert etag(api, url) == current  # nothing of it was stored
    changed = api.patch(url, {**edit_of(route, book), "change_reason": "corrected from source"}, HTTP_IF_MATCH=current)
    assert changed.status_code == 200, changed.content
    assert changed["ETag"] == f'"{version + 1}"'


# Rows a row's void waits for: a product is voided after its lots, a lot after its infusion (the service's rule).
VOIDED_FIRST = {"apheresis": ("infusions", "product-lots"), "product-lots": ("infusions",)}


def listed_keys(api, route: str, query: str = "") -> list:
    key = "id" if viewset_of(route).lookup_field == "pk" else viewset_of(route).lookup_field
    return [item[key] for item in api.get(f"/api/v1/{route}/{query}").json()["results"]]


@pytest.mark.parametrize("route", CRF_ROUTES)
def test_a_void_needs_a_reason_and_keeps_the_row_and_its_history(route, book, apis):
    api, url = apis[roles.SITE_STAFF], detail(route, book)
    for dependant in VOIDED_FIRST.get(route, ()):
        assert api.delete(detail(dependant, book), {"change_reason": "entered in error"}).status_code == 200
    model = viewset_of(route).queryset.model
    row = model.objects.get(**{viewset_of(route).lookup_field: book[route]})
    history = model.history.filter(id=row.pk).count()
    refused = api.delete(url)
    assert refused.status_code == 400 and "change_reason" in refused.json()
    voided = api.delete(url, {"change_reason": "entered in error"})
    assert voided.status_code == 200, voided.content
    row.refresh_from_db()
    assert (row.voided, row.void_reason) == (True, "entered in error")
    assert model.history.filter(id=row.pk).count() == history + 1
    assert model.history.filter(id=row.pk).latest().history_change_reason == "entered in error"
    assert book[route] not in listed_keys(api, route)
    assert book[route] in listed_keys(api, route, "?include_voided=true")


def test_every_crf_list_costs_the_same_queries_at_1_and_20_rows(site, staff, apis, count_queries):
    from tests import factories

    api = apis[roles.SITE_STAFF]

    def list_costs() -> dict[str, tuple[int, int]]:
        api.get("/api/v1/sites/")  # the user's roles and sites, read once per request user, are read here
        costs = {}
        for route in CRF_ROUTES:
            queries, response = count_queries(lambda route=route: api.get(f"/api/v1/{route}/?page_size=100"))
            assert response.status_code == 200, (route, response.content)
            costs[route] = (queries, response.json()["count"])
        return costs

    treated_casebook(factories.make_subject(site, staff), staff)
    one = list_costs()
    for _ in range(19):
        treated_casebook(factories.make_subject(site, staff), staff)
    twenty = list_costs()
    for route in CRF_ROUTES:
        (queries_one, rows_one), (queries_twenty, rows_twenty) = one[route], twenty[route]
        assert rows_twenty >= 20 * rows_one >= 20, (route, rows_one, rows_twenty)
        assert queries_one == queries_twenty, (route, queries_one, queries_twenty)


LISTS = [*CRF_ROUTES, "queries", "signatures", "source-verifications", "locks", "milestones"]


@pytest.mark.parametrize("route", LISTS)
def test_every_list_filters_by_subject_and_refuses_an_unknown_parameter(route, site, staff, book, apis):
    from tests import factories

    other = factories.make_subject(site, staff, initials="OT")
    api = apis[roles.DATA_MANAGER]
    everyone = api.get(f"/api/v1/{route}/").json()["count"]
    assert api.get(f"/api/v1/{route}/?subject={other.subject_id}").json()["count"] == (1 if route == "subjects" else 0)
    own = api.get(f"/api/v1/{route}/?subject={book['subjects']}").json()["count"]
    assert own == everyone - (1 if route == "subjects" else 0)
    refused = api.get(f"/api/v1/{route}/?colour=red&subject__subject_id={other.subject_id}")
    assert refused.status_code == 400
    assert sorted(refused.json()) == ["colour", "subject__subject_id"]
    assert "this route takes" in refused.json()["colour"][0] and "subject" in refused.json()["colour"][0]
