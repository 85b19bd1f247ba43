import datetime as dt

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from edc import roles
from edc import services as edc_services
from edc.models import Visit
from followup import services, tasks
from followup.models import Milestone
from tests import factories
from tests.followup.conftest import SHANGHAI, infuse, pcr

pytestmark = pytest.mark.django_db
TODAY = dt.date.today()


def day_after_infusion(subject, days, hour=9):
    start = Visit.objects.get(subject=subject, code="D0").visit_datetime
    return start + dt.timedelta(days=days, hours=hour - 10)


def kinds(subject):
    return {(m.kind, m.visit.code if m.visit else "", m.revoked_at is not None) for m in subject.milestones.all()}


@pytest.fixture
def staff_with_email(staff):
    staff.email = "staff@fah.example"
    staff.save()
    return staff


def test_pcr_negativity_confirmed_and_rescan_changes_nothing(
    treated, staff_with_email, django_capture_on_commit_callbacks
):
    pcr(treated, staff_with_email, day_after_infusion(treated, 90), not_detected=True)
    # not detected (DOMAIN.md §7 as revised: a value below the LLOQ 50 is no longer negative)
    pcr(treated, staff_with_email, day_after_infusion(treated, 180), not_detected=True)
    with django_capture_on_commit_callbacks(execute=True):
        first = services.scan_milestones(TODAY)
    confirmed = Milestone.objects.get(subject=treated, kind="PCR_NEGATIVE_CONFIRMED")
    assert confirmed.date == day_after_infusion(treated, 180).astimezone(SHANGHAI).date()
    assert confirmed.revoked_at is None
    rows_before = list(Milestone.objects.values_list("pk", "kind", "date", "revoked_at", "version"))
    history_before = Milestone.history.count()
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            again = services.scan_milestones(TODAY)
        assert (len(again.raised), again.updated, again.revoked) == (0, 0, 0)
    assert list(Milestone.objects.values_list("pk", "kind", "date", "revoked_at", "version")) == rows_before
    assert Milestone.history.count() == history_before
    assert {m.kind for m in first.raised} == {"PCR_NEGATIVE_CONFIRMED", "CONTRACEPTION_END"}
    assert len(mail.outbox) == 1  # one e-mail for the first scan, none for the re-runs
    assert treated.subject_id in mail.outbox[0].body and "PCR_NEGATIVE_CONFIRMED" in mail.outbox[0].body


def test_negatives_before_expansion_confirm_nothing_and_the_peak_raises_no_reemergence(treated, staff):
    # issue 15: not detected on D1 and D4, then the D7 peak
    pcr(treated, staff, day_after_infusion(treated, 1), not_detected=True)
    pcr(treated, staff, day_after_infusion(treated, 4), not_detected=True)
    pcr(treated, staff, day_after_infusion(treated, 7), value="25000")
    services.scan_milestones(TODAY)
    assert not Milestone.objects.filter(subject=treated, kind__startswith="PCR_").exists()
    pcr(treated, staff, day_after_infusion(treated, 90), not_detected=True)
    pcr(treated, staff, day_after_infusion(treated, 180), not_detected=True)
    services.scan_milestones(TODAY)
    confirmed = Milestone.objects.get(subject=treated, kind="PCR_NEGATIVE_CONFIRMED")
    assert confirmed.date == day_after_infusion(treated, 180).astimezone(SHANGHAI).date()
    assert confirmed.revoked_at is None
    assert not Milestone.objects.filter(subject=treated, kind="PCR_REEMERGENCE").exists()


def test_results_detected_below_the_lloq_confirm_nothing_and_end_no_contraception(treated, staff):
    # issue 15: CAR-T DNA still detectable (below the LLOQ 50) does not end contraception
    pcr(treated, staff, day_after_infusion(treated, 7), value="25000")
    pcr(treated, staff, day_after_infusion(treated, 90), value="20")
    pcr(treated, staff, day_after_infusion(treated, 180), value="10")
    services.scan_milestones(TODAY)
    assert not Milestone.objects.filter(
        subject=treated, kind__in=["PCR_NEGATIVE_CONFIRMED", "CONTRACEPTION_END"]
    ).exists()


def test_negatives_with_a_positive_between_do_not_confirm(treated, staff):
    pcr(treated, staff, day_after_infusion(treated, 28), not_detected=True)
    pcr(treated, staff, day_after_infusion(treated, 60), value="500")
    pcr(treated, staff, day_after_infusion(treated, 90), not_detected=True)
    services.scan_milestones(TODAY)
    assert not Milestone.objects.filter(kind="PCR_NEGATIVE_CONFIRMED").exists()


def test_reemergence_revokes_confirmation_and_contraception_end(treated, staff):
    pcr(treated, staff, day_after_infusion(treated, 90), not_detected=True)
    pcr(treated, staff, day_after_infusion(treated, 180), not_detected=True)
    services.scan_milestones(TODAY)
    assert ("CONTRACEPTION_END", "", False) in kinds(treated)
    pcr(treated, staff, day_after_infusion(treated, 380), value="900")
    result = services.scan_milestones(TODAY)
    found = kinds(treated)
    assert ("PCR_NEGATIVE_CONFIRMED", "", True) in found
    assert ("PCR_REEMERGENCE", "", False) in found
    assert ("CONTRACEPTION_END", "", True) in found
    assert result.updated >= 2
    confirmed = Milestone.objects.get(kind="PCR_NEGATIVE_CONFIRMED")
    assert confirmed.history.count() == 2  # raised, then revoked: never deleted


def test_month_12_and_contraception_for_a_man(site, staff):
    man = factories.make_subject(site, staff, sex="M", childbearing_potential=False)
    start = dt.datetime(2024, 2, 29, 0, 30, tzinfo=SHANGHAI)  # 16:30 UTC on the 28th
    infuse(man, staff, start)
    pcr(man, staff, start + dt.timedelta(days=30), not_detected=True)
    pcr(man, staff, start + dt.timedelta(days=60), not_detected=True)
    services.scan_milestones(dt.date(2025, 3, 1))
    month_12 = Milestone.objects.get(subject=man, kind="MONTH_12")
    assert month_12.date == dt.date(2025, 2, 28)
    assert Milestone.objects.get(subject=man, kind="CONTRACEPTION_END").date == dt.date(2025, 2, 28)


def test_no_contraception_end_for_a_woman_not_of_childbearing_potential(site, staff):
    woman = factories.make_subject(site, staff, sex="F", childbearing_potential=False)
    start = dt.datetime(2024, 3, 1, 10, tzinfo=SHANGHAI)
    infuse(woman, staff, start)
    pcr(woman, staff, start + dt.timedelta(days=30), not_detected=True)
    pcr(woman, staff, start + dt.timedelta(days=60), not_detected=True)
    services.scan_milestones(dt.date(2025, 6, 1))
    assert not Milestone.objects.filter(subject=woman, kind="CONTRACEPTION_END").exists()
    assert Milestone.objects.filter(subject=woman, kind="MONTH_12").exists()


def test_overdue_visit_is_revoked_once_recorded(treated, staff):
    services.scan_milestones(TODAY)
    overdue = Milestone.objects.get(subject=treated, kind="VISIT_OVERDUE", visit__code="D7")
    assert overdue.date == overdue.visit.window_end + dt.timedelta(days=1)
    visit = overdue.visit
    visit.status = Visit.Status.MISSED
    edc_services.save_crf(visit, user=staff, reason="subject did not come")
    services.scan_milestones(TODAY)
    overdue.refresh_from_db()
    assert overdue.revoked_at is not None


def test_scan_query_count_does_not_grow_with_subjects(site, staff):
    def add_treated(n):
        for _ in range(n):
            subject = factories.make_subject(site, staff)
            start = dt.datetime.combine(TODAY - dt.timedelta(days=200), dt.time(10), tzinfo=SHANGHAI)
            infuse(subject, staff, start)
            pcr(subject, staff, start + dt.timedelta(days=90), not_detected=True)
            pcr(subject, staff, start + dt.timedelta(days=120), not_detected=True)

    def count():
        Milestone.history.all().delete()
        Milestone.objects.all().delete()
        with CaptureQueriesContext(connection) as captured:
            services.scan_milestones(TODAY)
        return len(captured)

    add_treated(1)
    one = count()
    add_treated(2)  # 3 subjects: ~60 milestones, one insert batch even under SQLite's parameter limit
    assert count() == one


def test_saving_a_qpcr_result_recomputes_on_commit(treated, staff_api, monkeypatch, django_capture_on_commit_callbacks):
    body = factories.lab_payload(treated, analyte="CARPCR", unit="copies/µg", value=None, lln=None, uln=None,
                                 lloq="50", not_detected=True)  # fmt: skip
    for days in (90, 180):
        body["sample_datetime"] = day_after_infusion(treated, days).isoformat()
        with django_capture_on_commit_callbacks(execute=True):
            assert staff_api.post("/api/v1/lab-results/", body, format="json").status_code == 201
    assert Milestone.objects.filter(subject=treated, kind="PCR_NEGATIVE_CONFIRMED").exists()


def test_broker_down_data_entry_succeeds_and_the_scan_catches_up(
    treated, staff_api, monkeypatch, django_capture_on_commit_callbacks
):
    from django.conf import settings

    from config.celery import app

    # Point the app at a dead port (nothing listens on port 1) with a fresh connection pool.
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    monkeypatch.setitem(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    monkeypatch.setitem(app.conf, "broker_transport_options", settings.BROKER_PUBLISH_RETRY)
    monkeypatch.setattr(app, "_pool", None)
    monkeypatch.setattr(app.amqp, "_producer_pool", None)
    warnings = []
    monkeypatch.setattr(tasks.logger, "warning", lambda message, *args: warnings.append(message % args))
    try:
        body = factories.lab_payload(treated, analyte="CARPCR", unit="copies/µg", value=None, lln=None, uln=None,
                                     lloq="50", not_detected=True)  # fmt: skip
        for days in (90, 180):
            body["sample_datetime"] = day_after_infusion(treated, days).isoformat()
            with django_capture_on_commit_callbacks(execute=True):
                assert staff_api.post("/api/v1/lab-results/", body, format="json").status_code == 201
    finally:
        app.pool.force_close_all()
    assert len(warnings) == 2 and "Connection refused" in warnings[0]
    assert not Milestone.objects.filter(kind="PCR_NEGATIVE_CONFIRMED").exists()
    services.scan_milestones(TODAY)
    assert Milestone.objects.filter(subject=treated, kind="PCR_NEGATIVE_CONFIRMED").exists()


def test_run_milestones_command(treated, staff, capsys):
    pcr(treated, staff, day_after_infusion(treated, 90), not_detected=True)
    pcr(treated, staff, day_after_infusion(treated, 180), not_detected=True)
    call_command("run_milestones", "--subject", treated.subject_id, "--today", TODAY.isoformat())
    out = capsys.readouterr().out
    assert "Scanned 1 treated subject(s)" in out and "PCR_NEGATIVE_CONFIRMED" in out


def test_milestones_api_is_read_only_and_scoped(treated, staff_api, client_for, make_user, other_site):
    services.scan_milestones(TODAY)
    listed = staff_api.get(f"/api/v1/milestones/?subject={treated.subject_id}&kind=MONTH_12")
    assert listed.status_code == 200 and listed.data["count"] == 1
    assert listed.data["results"][0]["date"] is not None
    assert staff_api.post("/api/v1/milestones/", {}, format="json").status_code in (403, 405)
    outsider = client_for(make_user(roles.SITE_STAFF, other_site))
    assert outsider.get("/api/v1/milestones/").data["count"] == 0


def test_subject_page_shows_contraception_and_pcr_status(client, staff, treated):
    services.scan_milestones(TODAY)
    client.force_login(staff)
    page = client.get(f"/admin/edc/subject/{treated.pk}/change/").content.decode()
    assert "Contraception required until qPCR negativity is confirmed" in page
    assert "PCR negativity: not yet confirmed negative" in page
    assert "month 12" in page and "MONTH_12" not in page  # by its name, not its code


def test_beat_runs_the_scan_daily_at_two_in_site_time():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["scan-milestones"]
    assert entry["task"] == "followup.tasks.scan_milestones"
    assert entry["schedule"].hour == {2} and entry["schedule"].minute == {0}
    assert settings.CELERY_TIMEZONE == "Asia/Shanghai"


def test_scan_task_returns_a_summary(treated):
    from followup.tasks import scan_milestones

    Milestone.objects.filter(subject=treated).delete()  # as if never scanned (the fixture's recompute ran)
    summary = scan_milestones.apply(kwargs={"today": TODAY.isoformat()}).get()
    assert summary["subjects"] == 1 and summary["raised"] == Milestone.objects.filter(subject=treated).count() > 0


def test_subject_page_follow_up_grid_in_constant_queries(client, staff, treated):
    from decimal import Decimal

    from edc.models import LabResult

    client.force_login(staff)
    url = f"/admin/edc/subject/{treated.pk}/change/"

    def count():
        cache.clear()  # the panels are rendered again, as after any change to the subject's data
        with CaptureQueriesContext(connection) as captured:
            page = client.get(url)
        assert page.status_code == 200
        return len(captured), page.content.decode()

    count()  # warm-up: content types and the like are cached on first use
    few, _ = count()
    for code in ("D7", "D14", "D28"):
        visit = Visit.objects.get(subject=treated, code=code)
        edc_services.save_crf(
            LabResult(subject=treated, visit=visit, analyte="C3", value=Decimal("0.95"), unit="g/L",
                      sample_datetime=visit.visit_datetime or day_after_infusion(treated, 7)),
            user=staff,
        )  # fmt: skip
    many, page = count()
    assert many == few
    assert "follow-up-grid" in page and "0.95" in page


def test_one_recompute_task_per_transaction(treated, staff, monkeypatch, django_capture_on_commit_callbacks):
    from django.db import transaction

    sent = []
    monkeypatch.setattr(tasks, "enqueue_recompute", lambda subject_ids: sent.append(subject_ids))
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        for days in (30, 60, 90):
            pcr(treated, staff, day_after_infusion(treated, days), not_detected=True)
    assert sent == [[treated.pk]]
