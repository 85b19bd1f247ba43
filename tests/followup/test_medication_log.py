"""The medication log through follow-up (DOMAIN.md §6, issue 15): the route, the adverse event a medication treats
(same subject, given for that kind of event), the infection fields of an adverse event, the subject page and the
visit CRF, and SDTM CM, SUPPCM, SUPPAE and AEOUT."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from edc import roles
from edc import services as edc_services
from edc.models import Visit
from followup.models import AdverseEvent, AdverseEventTreatment
from screening.models import Medication
from tests import factories

pytestmark = pytest.mark.django_db


def day0_of(subject) -> dt.date:
    return Visit.objects.get(subject=subject, code="D0").visit_datetime.date()


def medication(subject, user, **fields) -> Medication:
    start = day0_of(subject) + dt.timedelta(days=3)
    values = {"drug": "tocilizumab", "category": "ANTI_IL6", "indication": "CRS", "route": "IV",
              "dose_mg_per_day": Decimal("480"), "start_date": start, **fields}  # fmt: skip
    values.setdefault("stop_date", values["start_date"] + dt.timedelta(days=1))
    return edc_services.save_crf(Medication(subject=subject, **values), user=user)


def event(subject, user, **fields) -> AdverseEvent:
    values = {"term": "Cytokine release syndrome", "category": "CRS", "relatedness": "PROBABLE",
              "onset_date": day0_of(subject) + dt.timedelta(days=2), "max_temperature_c": Decimal("38.9"),
              "hypotension": "NO_VASOPRESSOR", "outcome": "RECOVERED", **fields}  # fmt: skip
    return edc_services.save_crf(AdverseEvent(subject=subject, **values), user=user)


def link(event_row, medication_row, user) -> AdverseEventTreatment:
    row = AdverseEventTreatment(subject=event_row.subject, adverse_event=event_row, medication=medication_row)
    return edc_services.save_crf(row, user=user)


def cmv_infection(subject, user) -> AdverseEvent:
    return event(subject, user, term="CMV reactivation", category="INFECTION", ctcae_grade=2,
                 onset_date=day0_of(subject) + dt.timedelta(days=30), max_temperature_c=None, hypotension="NONE",
                 outcome="RECOVERING", pathogen_class="VIRAL", organism="Cytomegalovirus", infection_site="BLOODSTREAM",
                 opportunistic=True, viral_reactivation="CMV")  # fmt: skip


@pytest.fixture
def log(treated, staff):
    """The demo's shape: prednisone for the SLE, tocilizumab for a grade 2 CRS, valganciclovir for a CMV
    reactivation, IVIG; the CRS and the infection linked to their treatments."""
    day0 = day0_of(treated)
    prednisone = medication(treated, staff, drug="prednisone", category="CORTICOSTEROID", indication="SLE",
                            route="ORAL", dose_mg_per_day=Decimal("7.5"), start_date=day0 - dt.timedelta(days=700),
                            stop_date=None)  # fmt: skip
    crs = event(treated, staff)
    tocilizumab = medication(treated, staff)
    link(crs, tocilizumab, staff)
    infection = cmv_infection(treated, staff)
    valganciclovir = medication(treated, staff, drug="valganciclovir", category="ANTI_INFECTIVE",
                                indication="INFECTION", route="ORAL", dose_mg_per_day=Decimal("1800"),
                                start_date=day0 + dt.timedelta(days=31),
                                stop_date=day0 + dt.timedelta(days=52))  # fmt: skip
    link(infection, valganciclovir, staff)
    ivig = medication(treated, staff, drug="IVIG", category="IVIG", indication="PROPHYLAXIS", route="IV",
                      dose_mg_per_day=Decimal("24000"), start_date=day0 + dt.timedelta(days=90),
                      stop_date=None)  # fmt: skip
    return {"prednisone": prednisone, "tocilizumab": tocilizumab, "valganciclovir": valganciclovir, "ivig": ivig,
            "crs": crs, "infection": infection}  # fmt: skip


def medication_payload(subject, **fields) -> dict:
    return {"subject": subject.subject_id, "drug": "filgrastim", "category": "G_CSF", "indication": "OTHER",
            "dose_mg_per_day": "0.3", "route": "SC", "start_date": str(day0_of(subject) + dt.timedelta(days=5)),
            **fields}  # fmt: skip


# --- The medication log: route, stop date ----------------------------------------------------------


@pytest.mark.parametrize("route", ["ORAL", "IV", "SC", "IM", "TOPICAL", "INHALED", "OTHER", ""])
def test_api_stores_each_route(staff_api, treated, route):
    response = staff_api.post("/api/v1/medications/", medication_payload(treated, route=route), format="json")
    assert response.status_code == 201, response.data
    assert Medication.objects.get(pk=response.data["id"]).route == route


def test_api_refuses_a_route_not_in_the_list_naming_it(staff_api, treated):
    response = staff_api.post("/api/v1/medications/", medication_payload(treated, route="PO"), format="json")
    assert response.status_code == 400 and "route" in response.data, response.data
    assert not Medication.objects.exists()


def test_api_refuses_a_stop_date_before_the_start(staff_api, treated):
    start = day0_of(treated) + dt.timedelta(days=5)
    body = medication_payload(treated, stop_date=str(start - dt.timedelta(days=1)))
    response = staff_api.post("/api/v1/medications/", body, format="json")
    assert response.status_code == 400, response.data
    assert response.data["stop_date"] == [f"{start - dt.timedelta(days=1)} is before the start date {start}"]
    assert not Medication.objects.exists()


# --- Infection fields ---------------------------------------------------------------------------------


def infection_payload(subject, **fields) -> dict:
    return {"subject": subject.subject_id, "term": "Pneumonia", "category": "INFECTION", "relatedness": "POSSIBLE",
            "onset_date": str(day0_of(subject) + dt.timedelta(days=40)), "ctcae_grade": 3, "outcome": "RECOVERED",
            "pathogen_class": "BACTERIAL", "organism": "Streptococcus pneumoniae",
            "infection_site": "RESPIRATORY_LOWER", "opportunistic": False, **fields}  # fmt: skip


def test_api_stores_the_infection_fields(staff_api, treated):
    body = infection_payload(treated, pathogen_class="VIRAL", organism="EBV", viral_reactivation="EBV")
    response = staff_api.post("/api/v1/adverse-events/", body, format="json")
    assert response.status_code == 201, response.data
    assert {k: response.data[k] for k in ("pathogen_class", "organism", "infection_site", "opportunistic",
                                          "viral_reactivation", "treated_with")} == {  # fmt: skip
        "pathogen_class": "VIRAL", "organism": "EBV", "infection_site": "RESPIRATORY_LOWER", "opportunistic": False,
        "viral_reactivation": "EBV", "treated_with": [],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value"),
    [("pathogen_class", "BACTERIAL"), ("organism", "E. coli"), ("infection_site", "URINARY"), ("opportunistic", True),
     ("viral_reactivation", "CMV"), ("opportunistic", False)],
)  # fmt: skip
def test_api_refuses_infection_fields_on_another_category(staff_api, treated, field, value):
    body = {**infection_payload(treated, category="CYTOPENIA"), "pathogen_class": "", "organism": "",
            "infection_site": "", "opportunistic": None, field: value}  # fmt: skip
    response = staff_api.post("/api/v1/adverse-events/", body, format="json")
    assert response.status_code == 400, response.data
    assert list(response.data) == [field]
    assert "only an INFECTION event" in response.data[field][0] and "CYTOPENIA" in response.data[field][0]
    assert not AdverseEvent.objects.exists()


def test_api_refuses_a_viral_reactivation_of_a_bacterial_infection(staff_api, treated):
    response = staff_api.post("/api/v1/adverse-events/", infection_payload(treated, viral_reactivation="HBV"),
                              format="json")  # fmt: skip
    assert response.status_code == 400
    assert response.data["viral_reactivation"] == [
        "a viral reactivation (HBV) needs pathogen class VIRAL, not BACTERIAL"
    ]
    assert not AdverseEvent.objects.exists()


def test_api_refuses_an_unknown_pathogen_class(staff_api, treated):
    response = staff_api.post("/api/v1/adverse-events/", infection_payload(treated, pathogen_class="PRION"),
                              format="json")  # fmt: skip
    assert response.status_code == 400 and "pathogen_class" in response.data


# --- The adverse event a medication treats ----------------------------------------------------------------


def test_api_links_a_medication_to_the_event_it_treats_with_history(staff_api, treated, staff):
    crs, tocilizumab = event(treated, staff), medication(treated, staff)
    body = {"subject": treated.subject_id, "adverse_event": crs.pk, "medication": tocilizumab.pk}
    response = staff_api.post("/api/v1/adverse-event-treatments/", body, format="json")
    assert response.status_code == 201, response.data
    stored = AdverseEventTreatment.objects.get(pk=response.data["id"])
    assert stored.history.count() == 1 and stored.history.first().history_user == staff
    assert staff_api.get(f"/api/v1/adverse-events/{crs.pk}/").data["treated_with"] == [tocilizumab.pk]
    listed = staff_api.get("/api/v1/adverse-event-treatments/", {"adverse_event": crs.pk}).data
    assert [row["medication"] for row in listed["results"]] == [tocilizumab.pk]


def test_api_refuses_a_medication_of_another_subject(staff_api, treated, staff, site):
    other = factories.make_subject(site, staff)
    theirs = Medication(subject=other, drug="tocilizumab", category="ANTI_IL6", indication="CRS",
                        start_date=day0_of(treated))  # fmt: skip
    theirs = edc_services.save_crf(theirs, user=staff)
    crs = event(treated, staff)
    body = {"subject": treated.subject_id, "adverse_event": crs.pk, "medication": theirs.pk}
    response = staff_api.post("/api/v1/adverse-event-treatments/", body, format="json")
    assert response.status_code == 400
    assert list(response.data) == ["medication"] and "belongs to another subject" in response.data["medication"][0]
    assert not AdverseEventTreatment.objects.exists()


def test_another_sites_event_is_not_found_in_a_body_or_a_url(client_for, make_user, treated, staff, other_site):
    crs, tocilizumab = event(treated, staff), medication(treated, staff)
    stored = link(crs, tocilizumab, staff)
    elsewhere = client_for(make_user(roles.SITE_STAFF, other_site))
    assert elsewhere.get(f"/api/v1/adverse-event-treatments/{stored.pk}/").status_code == 404
    assert elsewhere.get(f"/api/v1/adverse-events/{crs.pk}/").status_code == 404
    body = {"subject": treated.subject_id, "adverse_event": crs.pk, "medication": tocilizumab.pk}
    response = elsewhere.post("/api/v1/adverse-event-treatments/", body, format="json")
    assert response.status_code == 400
    assert "at your sites" in response.data["adverse_event"][0] and "at your sites" in response.data["medication"][0]
    assert AdverseEventTreatment.objects.count() == 1


@pytest.mark.parametrize(
    ("indication", "category", "field", "message"),
    [
        ("SLE", "CRS", "medication", "this one's indication is SLE"),
        ("", "CRS", "medication", "this one's indication is none"),
        ("CRS", "INFECTION", "adverse_event", "a medication given for CRS treats a CRS event, not INFECTION"),
    ],
)
def test_a_medication_treats_only_the_kind_of_event_it_is_given_for(staff_api, treated, staff, indication, category,
                                                                    field, message):  # fmt: skip
    target = cmv_infection(treated, staff) if category == "INFECTION" else event(treated, staff)
    given = medication(treated, staff, indication=indication)
    body = {"subject": treated.subject_id, "adverse_event": target.pk, "medication": given.pk}
    response = staff_api.post("/api/v1/adverse-event-treatments/", body, format="json")
    assert response.status_code == 400
    assert message in response.data[field][0]


def test_a_medication_treats_one_event(staff_api, treated, staff):
    first, second = event(treated, staff), event(treated, staff, term="CRS, second episode")
    tocilizumab = medication(treated, staff)
    link(first, tocilizumab, staff)
    body = {"subject": treated.subject_id, "adverse_event": second.pk, "medication": tocilizumab.pk}
    response = staff_api.post("/api/v1/adverse-event-treatments/", body, format="json")
    assert response.status_code == 400
    assert "already recorded as treating Cytokine release syndrome" in response.data["medication"][0]
    # Voided, the link frees the medication for another event.
    edc_services.void_crf(AdverseEventTreatment.objects.get(), user=staff, reason="wrong event")
    assert staff_api.post("/api/v1/adverse-event-treatments/", body, format="json").status_code == 201


# --- Admin: the subject page, the adverse event page, the visit CRF ------------------------------------------


def test_subject_page_shows_route_and_the_event_treated_in_constant_queries(client, staff, treated, log,
                                                                             count_queries):  # fmt: skip
    client.force_login(staff)
    url = reverse("admin:edc_subject_change", args=[treated.pk])
    client.get(url)  # the user's roles and sites are read once per session
    queries, response = count_queries(lambda: client.get(url))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Cytokine release syndrome (onset" in page and "CMV reactivation (onset" in page
    assert 'value="IV" selected' in page and "Intravenous" in page
    medication(treated, staff, drug="anakinra", category="ANAKINRA", route="SC", dose_mg_per_day=Decimal("200"))
    link(event(treated, staff, term="CRS, second episode"), Medication.objects.get(drug="anakinra"), staff)
    more, _ = count_queries(lambda: client.get(url))
    assert more == queries  # the event treated is read once for the inline, not per row


def test_adverse_event_page_has_the_infection_fields_and_its_treatments(client, staff, log):
    client.force_login(staff)
    page = client.get(reverse("admin:followup_adverseevent_change", args=[log["infection"].pk])).content.decode()
    assert '"fieldset-heading">Infection</h2>' in page and "Cytomegalovirus" in page
    assert 'value="BLOODSTREAM" selected' in page and "Lower respiratory" in page
    assert "treated with (medication log)" in page.lower() and "valganciclovir 1800 mg/day" in page
    medication_page = client.get(reverse("admin:screening_medication_change", args=[log["valganciclovir"].pk]))
    assert "CMV reactivation (onset" in medication_page.content.decode()


def test_admin_links_a_treatment_on_the_event_page(client, staff, treated):
    client.force_login(staff)
    crs, tocilizumab = event(treated, staff), medication(treated, staff)
    url = reverse("admin:followup_adverseevent_change", args=[crs.pk])
    fields = ("term", "category", "onset_date", "relatedness", "outcome", "max_temperature_c", "hypotension", "hypoxia",
              "consciousness", "seizure", "motor_findings", "cerebral_oedema")  # fmt: skip
    data = {name: getattr(crs, name) for name in fields}
    data.update({"subject": treated.pk, "change_reason": "tocilizumab given", "opened_version": crs.version,
                 "treatments-TOTAL_FORMS": "1", "treatments-INITIAL_FORMS": "0", "treatments-MIN_NUM_FORMS": "0",
                 "treatments-MAX_NUM_FORMS": "1000", "treatments-0-medication": tocilizumab.pk,
                 "treatments-0-adverse_event": crs.pk})  # fmt: skip
    response = client.post(url, data)
    assert response.status_code == 302, [
        response.context["adminform"].form.errors,
        [f.errors for f in response.context["inline_admin_formsets"][0].formset],
    ]
    stored = AdverseEventTreatment.objects.get()
    assert (stored.subject, stored.medication, stored.adverse_event) == (treated, tocilizumab, crs)
    assert stored.history.first().history_change_reason == "tocilizumab given"


def test_visit_crf_lists_the_medications_taken_that_day(client, staff, treated, log):
    client.force_login(staff)
    d90 = Visit.objects.get(subject=treated, code="M3")
    page = client.get(reverse("admin:edc_visit_crf", args=[d90.pk])).content.decode()
    section = page[page.index("Medications taken on the visit day") :]
    assert "prednisone" in section and "IVIG" in section and "24000 mg/day" in section
    assert "tocilizumab" not in section and "valganciclovir" not in section  # stopped before day 90
    assert "Prophylaxis" in section and "Intravenous" in section and "Add a medication to the log" in section
    d4 = Visit.objects.get(subject=treated, code="D4")
    day4 = client.get(reverse("admin:edc_visit_crf", args=[d4.pk])).content.decode()
    assert "tocilizumab" in day4 and "Cytokine release syndrome (onset" in day4


# --- SDTM: CM, SUPPCM, AE (AEOUT), SUPPAE ---------------------------------------------------------------------


def read_csv(response) -> list[dict]:
    assert response.status_code == 200 and isinstance(response, StreamingHttpResponse)
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def exporter(make_user, site):
    return make_user(roles.DATA_MANAGER, site, username="exporter")


def test_sdtm_cm_is_the_medication_log(client_for, exporter, treated, log):
    rows = read_csv(client_for(exporter).get("/api/v1/exports/sdtm/cm/"))
    day0 = day0_of(treated)
    assert [(r["CMSEQ"], r["CMTRT"], r["CMCAT"], r["CMINDC"], r["CMDOSE"], r["CMDOSU"], r["CMDOSFRQ"], r["CMROUTE"],
             r["CMSTDY"], r["CMENDY"]) for r in rows] == [
        ("1", "prednisone", "CORTICOSTEROID", "SLE", "7.5", "mg", "QD", "ORAL", "-700", ""),
        ("2", "tocilizumab", "ANTI_IL6", "CRS", "480", "mg", "QD", "INTRAVENOUS", "4", "5"),
        ("3", "valganciclovir", "ANTI_INFECTIVE", "INFECTION", "1800", "mg", "QD", "ORAL", "32", "53"),
        ("4", "IVIG", "IVIG", "PROPHYLAXIS", "24000", "mg", "QD", "INTRAVENOUS", "91", ""),
    ]  # fmt: skip
    assert (rows[1]["CMSTDTC"], rows[0]["CMENDTC"]) == (str(day0 + dt.timedelta(days=3)), "")
    assert {r["USUBJID"] for r in rows} == {"NCT06711146-01-001"}


def test_sdtm_suppcm_links_a_medication_to_the_aeseq_it_treats(client_for, exporter, treated, log):
    rows = read_csv(client_for(exporter).get("/api/v1/exports/sdtm/suppcm/"))
    assert rows == [
        {"STUDYID": "NCT06711146", "RDOMAIN": "CM", "USUBJID": "NCT06711146-01-001", "IDVAR": "CMSEQ",
         "IDVARVAL": seq, "QNAM": "CMAENO", "QLABEL": "Related Adverse Event Seq", "QVAL": aeseq, "QORIG": "CRF"}
        for seq, aeseq in (("2", "1"), ("3", "2"))
    ]  # fmt: skip


def test_sdtm_ae_has_the_outcome_and_suppae_the_infection_fields(client_for, exporter, treated, log):
    api = client_for(exporter)
    ae = read_csv(api.get("/api/v1/exports/sdtm/ae/"))
    assert [(r["AESEQ"], r["AECAT"], r["AEOUT"], r["AETOXGR"]) for r in ae] == [
        ("1", "CRS", "RECOVERED/RESOLVED", "2"), ("2", "INFECTION", "RECOVERING/RESOLVING", "2"),
    ]  # fmt: skip
    supp = read_csv(api.get("/api/v1/exports/sdtm/suppae/"))
    assert [(r["RDOMAIN"], r["IDVAR"], r["IDVARVAL"], r["QNAM"], r["QLABEL"], r["QVAL"]) for r in supp] == [
        ("AE", "AESEQ", "2", "PATHCLAS", "Pathogen Class", "VIRAL"),
        ("AE", "AESEQ", "2", "ORGANISM", "Organism", "Cytomegalovirus"),
        ("AE", "AESEQ", "2", "INFSITE", "Infection Site", "BLOODSTREAM"),
        ("AE", "AESEQ", "2", "OPPORT", "Opportunistic Infection", "Y"),
        ("AE", "AESEQ", "2", "VIRREACT", "Viral Reactivation", "CMV"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("outcome", "aeout"),
    [("NOT_RECOVERED", "NOT RECOVERED/NOT RESOLVED"), ("RECOVERED_WITH_SEQUELAE", "RECOVERED/RESOLVED WITH SEQUELAE"),
     ("FATAL", "FATAL"), ("UNKNOWN", "UNKNOWN"), ("", "")],
)  # fmt: skip
def test_aeout_is_the_cdisc_term_of_the_outcome(client_for, exporter, treated, staff, outcome, aeout):
    event(treated, staff, outcome=outcome)
    (row,) = read_csv(client_for(exporter).get("/api/v1/exports/sdtm/ae/"))
    assert row["AEOUT"] == aeout
    assert row["AETOXGR"] == ("5" if outcome == "FATAL" else "2")


def test_a_voided_event_leaves_aeseq_and_the_link_consistent(client_for, exporter, treated, staff, log):
    edc_services.void_crf(log["crs"], user=staff, reason="entered twice")
    api = client_for(exporter)
    assert [(r["AESEQ"], r["AECAT"]) for r in read_csv(api.get("/api/v1/exports/sdtm/ae/"))] == [("1", "INFECTION")]
    supp = read_csv(api.get("/api/v1/exports/sdtm/suppcm/"))
    assert [(r["IDVARVAL"], r["QVAL"]) for r in supp] == [("3", "1")]  # valganciclovir → the infection, now AESEQ 1
    assert {r["IDVARVAL"] for r in read_csv(api.get("/api/v1/exports/sdtm/suppae/"))} == {"1"}


def test_sponsor_viewer_gets_cm_without_dates(client_for, make_user, site, treated, log):
    rows = read_csv(client_for(make_user(roles.SPONSOR_VIEWER, site)).get("/api/v1/exports/sdtm/cm/"))
    assert {r["CMSTDTC"] for r in rows} == {""} and {r["CMENDTC"] for r in rows} == {""}
    assert [r["CMSTDY"] for r in rows] == ["-700", "4", "32", "91"]


def test_cm_query_count_does_not_grow_with_subjects(client_for, exporter, treated, staff, site, log, count_queries):
    api = client_for(exporter)
    read_csv(api.get("/api/v1/exports/sdtm/dm/"))  # the user's roles and sites are read once per user object
    urls = ("/api/v1/exports/sdtm/cm/", "/api/v1/exports/sdtm/suppcm/", "/api/v1/exports/sdtm/suppae/")
    one = {url: count_queries(lambda url=url: read_csv(api.get(url)))[0] for url in urls}
    other = factories.make_subject(site, staff)
    edc_services.save_crf(Medication(subject=other, drug="prednisone", category="CORTICOSTEROID", indication="SLE",
                                     start_date=dt.date(2024, 1, 1)), user=staff)  # fmt: skip
    assert {url: count_queries(lambda url=url: read_csv(api.get(url)))[0] for url in urls} == one
