import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from edc import rules as edc_rules
from followup import rules
from followup.rules import MilestoneFact, PcrResult, VisitState

TZ = "Asia/Shanghai"
SHANGHAI = ZoneInfo(TZ)
INFUSION = dt.datetime(2028, 1, 10, 9, 0, tzinfo=SHANGHAI)
MONTH_12 = dt.date(2029, 1, 10)
LLOQ = Decimal("50")


def on(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


def negative(day: dt.date) -> PcrResult:
    return PcrResult(on(day), None, LLOQ, not_detected=True)


def positive(day: dt.date, value: str = "1200") -> PcrResult:
    return PcrResult(on(day), Decimal(value), LLOQ, not_detected=False)


D7, D14, D28, M3, M6 = (
    dt.date(2028, 1, 17),
    dt.date(2028, 1, 24),
    dt.date(2028, 2, 7),
    dt.date(2028, 4, 9),
    dt.date(2028, 7, 8),
)
M9, M15, M18 = dt.date(2028, 10, 5), dt.date(2029, 4, 10), dt.date(2029, 7, 9)


def kinds(facts):
    return {f.kind: f for f in facts}


# --- qPCR negativity ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, lloq, not_detected, is_negative",
    [
        (None, Decimal("50"), True, True),  # not detected
        (None, None, True, True),  # not detected needs no LLOQ
        # DOMAIN.md §7 (revised, issue 15): detected below the LLOQ is not negative (was True)
        (Decimal("49.99"), Decimal("50"), False, False),
        (Decimal("0"), Decimal("50"), False, False),
        (Decimal("50"), Decimal("50"), False, False),  # equal to the LLOQ is quantifiable
        (Decimal("50.01"), Decimal("50"), False, False),
        (Decimal("10"), None, False, False),  # no LLOQ: nothing is below it
        (None, Decimal("50"), False, False),  # no value, not "not detected": not shown negative
    ],
)
def test_is_pcr_negative(value, lloq, not_detected, is_negative):
    result = PcrResult(on(D7), value, lloq, not_detected)
    assert rules.is_pcr_negative(result) is is_negative


def test_two_consecutive_negatives_confirm_at_the_second_sample_date():
    facts = rules.pcr_milestones(INFUSION, [positive(D7), negative(M3), negative(M6)], TZ)
    assert facts == [
        MilestoneFact(
            "PCR_NEGATIVE_CONFIRMED", M6, detail="second of two consecutive negative CAR transgene qPCR results"
        )
    ]


def test_negatives_at_visits_1_and_3_with_a_positive_between_are_not_confirmed():
    assert rules.pcr_milestones(INFUSION, [negative(D7), positive(D14), negative(D28)], TZ) == []


@pytest.mark.parametrize(
    "second, confirmed",
    [
        (PcrResult(on(M6), Decimal("49.9"), LLOQ, False), False),  # BLQ is not negative (§7 revised; was True)
        (PcrResult(on(M6), None, LLOQ, True), True),  # not detected
        (PcrResult(on(M6), Decimal("50"), LLOQ, False), False),  # equal to LLOQ: positive
        (PcrResult(on(M6), None, LLOQ, False), False),  # no result: not negative
    ],
)
def test_kinds_of_negative_result(second, confirmed):
    facts = rules.pcr_milestones(INFUSION, [negative(M3), second], TZ)
    assert bool(facts) is confirmed
    if confirmed:
        assert facts[0].date == M6


def test_the_first_pair_dates_the_confirmation_not_a_later_negative():
    facts = rules.pcr_milestones(INFUSION, [positive(D7), negative(D28), negative(M3), negative(M6), negative(M9)], TZ)
    assert [(f.kind, f.date) for f in facts] == [("PCR_NEGATIVE_CONFIRMED", M3)]


def test_results_are_taken_in_sample_time_order_whatever_the_input_order():
    facts = rules.pcr_milestones(INFUSION, [negative(M6), positive(D14), negative(M3)], TZ)
    assert [(f.kind, f.date) for f in facts] == [("PCR_NEGATIVE_CONFIRMED", M6)]


def test_pre_infusion_results_do_not_count():
    before = PcrResult(INFUSION - dt.timedelta(hours=2), None, LLOQ, True)
    at_start = PcrResult(INFUSION, None, LLOQ, True)  # not after the start: not post-infusion
    assert rules.pcr_milestones(INFUSION, [before, at_start, negative(D7)], TZ) == []


def test_a_missing_result_between_negatives_breaks_the_pair_but_does_not_revoke():
    pending = PcrResult(on(M3), None, LLOQ, False)
    assert rules.pcr_milestones(INFUSION, [positive(D7), negative(D28), pending, negative(M6)], TZ) == []
    results = [positive(D7), negative(D28), negative(M3), PcrResult(on(M6), None, LLOQ, False)]
    facts = rules.pcr_milestones(INFUSION, results, TZ)
    assert [(f.kind, f.date, f.revoked_on) for f in facts] == [("PCR_NEGATIVE_CONFIRMED", M3, None)]


def test_a_later_positive_revokes_the_confirmation_as_reemergence():
    facts = kinds(rules.pcr_milestones(INFUSION, [negative(M3), negative(M6), positive(M9, "75")], TZ))
    assert facts["PCR_NEGATIVE_CONFIRMED"].date == M6
    assert facts["PCR_NEGATIVE_CONFIRMED"].revoked_on == M9
    assert facts["PCR_REEMERGENCE"] == MilestoneFact(
        "PCR_REEMERGENCE", M9, detail="positive qPCR 75 copies/µg after negativity confirmed on 2028-07-08"
    )


def test_a_second_positive_after_reemergence_changes_nothing():
    results = [negative(M3), negative(M6), positive(M9), positive(M15)]
    facts = kinds(rules.pcr_milestones(INFUSION, results, TZ))
    assert (facts["PCR_NEGATIVE_CONFIRMED"].revoked_on, facts["PCR_REEMERGENCE"].date) == (M9, M9)


def test_a_new_pair_of_negatives_after_reemergence_confirms_again_with_the_latest_date():
    results = [positive(D7), negative(D28), negative(M3), positive(M6), negative(M9), negative(M15)]
    facts = kinds(rules.pcr_milestones(INFUSION, results, TZ))
    assert facts["PCR_NEGATIVE_CONFIRMED"].date == M15
    assert facts["PCR_NEGATIVE_CONFIRMED"].revoked_on is None
    assert "confirmation no. 2" in facts["PCR_NEGATIVE_CONFIRMED"].detail
    # The re-emergence did happen and stays, saying it was followed by a new confirmation.
    assert facts["PCR_REEMERGENCE"].date == M6
    assert "confirmed again on 2029-04-10" in facts["PCR_REEMERGENCE"].detail


def test_reemergence_after_a_second_confirmation_moves_to_the_later_positive():
    results = [positive(D7), negative(D28), negative(M3), positive(M6), negative(M9), negative(M15), positive(M18)]
    facts = kinds(rules.pcr_milestones(INFUSION, results, TZ))
    assert (facts["PCR_NEGATIVE_CONFIRMED"].date, facts["PCR_NEGATIVE_CONFIRMED"].revoked_on) == (M15, M18)
    assert facts["PCR_REEMERGENCE"].date == M18


def test_the_milestone_date_is_the_site_date_of_the_sample():
    # 00:30 on 1 March in Hangzhou is 16:30 UTC on 29 February: the site date is 1 March.
    second = PcrResult(dt.datetime(2028, 2, 29, 16, 30, tzinfo=dt.UTC), None, LLOQ, True)
    facts = rules.pcr_milestones(INFUSION, [positive(D7), negative(D28), second], TZ)
    assert facts[0].date == dt.date(2028, 3, 1)


# --- Site dates and month 12 --------------------------------------------------------------------


@pytest.mark.parametrize(
    "moment, expected",
    [
        (dt.datetime(2028, 2, 29, 16, 30, tzinfo=dt.UTC), dt.date(2028, 3, 1)),  # 00:30 in Hangzhou
        (dt.datetime(2028, 2, 29, 15, 59, tzinfo=dt.UTC), dt.date(2028, 2, 29)),  # 23:59 in Hangzhou
        (dt.datetime(2028, 3, 1, 0, 30, tzinfo=SHANGHAI), dt.date(2028, 3, 1)),
    ],
)
def test_site_date(moment, expected):
    assert edc_rules.site_date(moment, TZ) == expected


def test_site_date_refuses_a_naive_datetime():
    with pytest.raises(ValueError, match="aware"):
        edc_rules.site_date(dt.datetime(2028, 3, 1, 0, 30), TZ)


@pytest.mark.parametrize(
    "infusion_date, month_12",
    [
        (dt.date(2028, 2, 29), dt.date(2029, 2, 28)),  # no 29 February in 2029
        (dt.date(2028, 2, 28), dt.date(2029, 2, 28)),
        (dt.date(2028, 3, 1), dt.date(2029, 3, 1)),
        (dt.date(2027, 2, 28), dt.date(2028, 2, 28)),  # into a leap year: still the 28th
        (dt.date(2026, 12, 31), dt.date(2027, 12, 31)),
        (dt.date(2028, 1, 10), dt.date(2029, 1, 10)),
    ],
)
def test_month_12_date(infusion_date, month_12):
    assert rules.month_12_date(infusion_date) == month_12


def milestones(infusion=INFUSION, sex="M", cbp=False, pcr=(), visits=(), today=dt.date(2030, 1, 1)):
    return rules.subject_milestones(infusion, TZ, sex, cbp, list(pcr), list(visits), today)


def test_month_12_after_an_infusion_on_29_february_2028():
    infusion = dt.datetime(2028, 2, 29, 10, 0, tzinfo=SHANGHAI)
    facts = kinds(milestones(infusion=infusion, today=dt.date(2029, 2, 28)))
    assert facts["MONTH_12"].date == dt.date(2029, 2, 28)


def test_month_12_counts_from_the_site_date_of_an_infusion_at_00_30_in_shanghai():
    # Infused 00:30 on 1 March 2028 in Hangzhou = 16:30 UTC on 29 February: month 12 is 1 March 2029, not
    # the 28 February that the UTC date would give.
    infusion = dt.datetime(2028, 2, 29, 16, 30, tzinfo=dt.UTC)
    assert "MONTH_12" not in kinds(milestones(infusion=infusion, today=dt.date(2029, 2, 28)))
    assert kinds(milestones(infusion=infusion, today=dt.date(2029, 3, 1)))["MONTH_12"].date == dt.date(2029, 3, 1)


@pytest.mark.parametrize("today, raised", [(MONTH_12 - dt.timedelta(days=1), False), (MONTH_12, True)])
def test_month_12_is_raised_only_once_it_has_happened(today, raised):
    assert ("MONTH_12" in kinds(milestones(today=today))) is raised


# --- Contraception ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pcr_confirmed, sex, cbp, end",
    [
        (M6, "M", False, MONTH_12),  # a man, negativity before month 12: month 12
        (M15, "M", False, M15),  # negativity after month 12: the confirmation date
        (MONTH_12, "M", False, MONTH_12),
        (M6, "M", True, MONTH_12),  # all men, whatever the flag says
        (M6, "F", True, MONTH_12),  # a woman of childbearing potential
        (M15, "F", True, M15),
        (M6, "F", False, None),  # not of childbearing potential: not applicable
        (None, "M", False, None),  # negativity not confirmed: still required, no end yet
        (None, "F", True, None),
    ],
)
def test_contraception_end(pcr_confirmed, sex, cbp, end):
    assert rules.contraception_end(MONTH_12, pcr_confirmed, sex, cbp) == end


def test_contraception_end_refuses_an_unknown_sex():
    with pytest.raises(ValueError, match="sex"):
        rules.contraception_end(MONTH_12, M6, "X", True)


@pytest.mark.parametrize(
    "pcr_confirmed, sex, cbp, today, until, status",
    [
        (M6, "F", False, M9, None, "NOT_APPLICABLE"),
        (None, "M", False, M9, MONTH_12, "REQUIRED_AT_LEAST_UNTIL"),
        (M6, "M", False, M9, MONTH_12, "REQUIRED_UNTIL"),
        (M6, "M", False, MONTH_12 - dt.timedelta(days=1), MONTH_12, "REQUIRED_UNTIL"),
        (M6, "M", False, MONTH_12, MONTH_12, "ENDED"),  # may stop ON the end date
        (None, "M", False, MONTH_12, None, "REQUIRED_UNTIL_PCR_NEGATIVE"),
        (M15, "F", True, M15, M15, "ENDED"),
    ],
)
def test_contraception_required_until(pcr_confirmed, sex, cbp, today, until, status):
    requirement = rules.contraception_required_until(MONTH_12, pcr_confirmed, sex, cbp, today)
    assert requirement == (until, status)
    assert (requirement.until, requirement.status) == (until, status)


@pytest.mark.parametrize(
    "pcr_confirmed, sex, cbp, today, text",
    [
        (
            None,
            "M",
            False,
            M9,
            "Contraception required until at least 2029-01-10 and until qPCR negativity is confirmed",
        ),
        (M6, "M", False, M9, "Contraception required until 2029-01-10"),
        (M6, "F", False, M9, "Contraception not applicable (woman not of childbearing potential)"),
        (None, "M", False, M15, "Contraception required until qPCR negativity is confirmed"),
        (M6, "M", False, M15, "Contraception no longer required since 2029-01-10"),
    ],
)
def test_contraception_text_for_the_subject_page(pcr_confirmed, sex, cbp, today, text):
    assert rules.contraception_required_until(MONTH_12, pcr_confirmed, sex, cbp, today).text == text


@pytest.mark.parametrize(
    "pcr, today, end",
    [
        ([negative(M3), negative(M6)], MONTH_12 - dt.timedelta(days=1), None),  # not yet
        ([negative(M3), negative(M6)], MONTH_12, MONTH_12),  # negativity precedes month 12
        ([negative(M9), negative(M15)], M15 - dt.timedelta(days=1), None),
        ([negative(M9), negative(M15)], M15, M15),  # negativity follows month 12
        ([negative(M3), positive(M6)], M18, None),  # never confirmed
    ],
)
def test_contraception_end_milestone_for_a_man(pcr, today, end):
    facts = kinds(milestones(sex="M", pcr=pcr, today=today))
    assert (facts["CONTRACEPTION_END"].date if "CONTRACEPTION_END" in facts else None) == end


def test_no_contraception_end_milestone_for_a_woman_not_of_childbearing_potential():
    facts = kinds(milestones(sex="F", cbp=False, pcr=[negative(M3), negative(M6)], today=M18))
    assert "CONTRACEPTION_END" not in facts
    assert "MONTH_12" in facts


def test_contraception_end_for_a_woman_of_childbearing_potential():
    facts = kinds(milestones(sex="F", cbp=True, pcr=[negative(M3), negative(M6)], today=M18))
    assert facts["CONTRACEPTION_END"].date == MONTH_12


def test_reemergence_after_contraception_ended_revokes_it_until_a_new_confirmation():
    pcr = [negative(M3), negative(M6), positive(M15)]
    facts = kinds(milestones(pcr=pcr, today=M15))
    assert (facts["CONTRACEPTION_END"].date, facts["CONTRACEPTION_END"].revoked_on) == (MONTH_12, M15)
    reconfirmed_on = dt.date(2029, 8, 1)
    facts = kinds(milestones(pcr=[*pcr, negative(M18), negative(reconfirmed_on)], today=reconfirmed_on))
    assert (facts["CONTRACEPTION_END"].date, facts["CONTRACEPTION_END"].revoked_on) == (reconfirmed_on, None)


def test_reemergence_before_month_12_means_contraception_never_ended():
    facts = kinds(milestones(pcr=[negative(M3), negative(M6), positive(M9)], today=M18))
    assert "CONTRACEPTION_END" not in facts


def test_a_positive_on_the_end_date_itself_means_contraception_never_ended():
    facts = kinds(milestones(pcr=[negative(M3), negative(M6), positive(MONTH_12)], today=M18))
    assert "CONTRACEPTION_END" not in facts


# --- Overdue visits -----------------------------------------------------------------------------

TODAY = dt.date(2028, 3, 1)


@pytest.mark.parametrize(
    "visit, overdue_on",
    [
        (VisitState("D28", dt.date(2028, 2, 29), False), dt.date(2028, 3, 1)),  # closed yesterday
        (VisitState("D28", dt.date(2028, 3, 1), False), None),  # closes today: may still happen
        (VisitState("D28", dt.date(2028, 2, 9), True), None),  # done
        (VisitState("M2", dt.date(2028, 3, 20), False), None),  # window still open
        (VisitState("UNS", None, False), None),  # unscheduled: no window
    ],
)
def test_overdue_visits(visit, overdue_on):
    facts = rules.overdue_visits([visit], TODAY)
    if overdue_on is None:
        assert facts == []
    else:
        assert facts == [
            MilestoneFact(
                "VISIT_OVERDUE",
                overdue_on,
                visit_code=visit.code,
                detail=f"window closed on {visit.window_end} with no visit recorded",
            )
        ]


def test_subject_milestones_combines_and_orders_by_date():
    visits = [
        VisitState("D7", dt.date(2028, 1, 18), True),
        VisitState("D14", dt.date(2028, 1, 25), False),
        VisitState("D21", dt.date(2028, 2, 2), False),
        VisitState("M15", dt.date(2029, 5, 10), False),
    ]
    facts = milestones(pcr=[negative(M3), negative(M6)], visits=visits, today=dt.date(2029, 2, 1))
    assert [(f.kind, f.date, f.visit_code) for f in facts] == [
        ("VISIT_OVERDUE", dt.date(2028, 1, 26), "D14"),
        ("VISIT_OVERDUE", dt.date(2028, 2, 3), "D21"),
        ("PCR_NEGATIVE_CONFIRMED", M6, ""),
        ("MONTH_12", MONTH_12, ""),
        ("CONTRACEPTION_END", MONTH_12, ""),
    ]


def test_pcr_negativity_episodes_list_each_confirmation_and_its_revocation():
    results = [positive(D7), negative(D28), negative(M3), positive(M6, "300"), negative(M9), negative(M15)]
    assert rules.pcr_negativity_episodes(INFUSION, results, TZ) == [
        rules.NegativityEpisode(M3, M6, Decimal("300"), LLOQ),
        rules.NegativityEpisode(M15, None),
    ]


# --- qPCR negativity, DOMAIN.md §7 as revised (issue 15) -----------------------------------------

D1, D4 = dt.date(2028, 1, 11), dt.date(2028, 1, 14)


def blq(day: dt.date, value: str = "20") -> PcrResult:
    """Detected below the LLOQ: not quantifiable, but CAR-T DNA is still there."""
    return PcrResult(on(day), Decimal(value), LLOQ, not_detected=False)


def day_n(n: int, hour: int = 10) -> dt.date:
    return INFUSION.date() + dt.timedelta(days=n)


def test_negatives_before_expansion_confirm_nothing_and_the_peak_is_no_reemergence():
    # the case of issue 15: not detected on D1 and D4, before expansion; the D7 peak
    results = [negative(D1), negative(D4), positive(D7, "25000"), positive(D14, "8000")]
    assert rules.pcr_milestones(INFUSION, results, TZ) == []
    # negativity is confirmed by two negatives after the first detected result
    facts = rules.pcr_milestones(INFUSION, [*results, negative(M3), negative(M6)], TZ)
    assert [(f.kind, f.date, f.revoked_on) for f in facts] == [("PCR_NEGATIVE_CONFIRMED", M6, None)]


def test_a_result_detected_below_the_lloq_is_not_negative_and_ends_no_contraception():
    # the case of issue 15: BLQ results after the peak do not confirm negativity
    results = [positive(D7), blq(M3), blq(M6), blq(M9)]
    assert rules.pcr_milestones(INFUSION, results, TZ) == []
    facts = kinds(milestones(sex="M", pcr=results, today=M18))
    assert "CONTRACEPTION_END" not in facts and "PCR_NEGATIVE_CONFIRMED" not in facts
    assert rules.contraception_required_until(MONTH_12, None, "M", False, M18).status == "REQUIRED_UNTIL_PCR_NEGATIVE"


@pytest.mark.parametrize(
    "value, lloq, not_detected, is_negative",
    [
        (None, LLOQ, True, True),  # not detected
        (None, None, True, True),  # not detected needs no LLOQ
        (Decimal("49.99"), LLOQ, False, False),  # detected below the LLOQ: not negative
        (Decimal("0.01"), LLOQ, False, False),
        (Decimal("50"), LLOQ, False, False),
        (None, LLOQ, False, False),  # no result
    ],
)
def test_only_not_detected_is_negative(value, lloq, not_detected, is_negative):
    assert rules.is_pcr_negative(PcrResult(on(M3), value, lloq, not_detected)) is is_negative


@pytest.mark.parametrize(
    "results, confirmed_on",
    [
        # both negatives follow the first detected result: the first two after it confirm
        ([positive(D7), negative(D14), negative(D28)], D28),
        # a negative before the first detected result does not pair with one after it
        ([negative(D4), positive(D7), negative(D14)], None),
        # a BLQ between two negatives breaks the pair (they are no longer adjacent)
        ([positive(D7), negative(D28), blq(M3), negative(M6)], None),
        ([positive(D7), negative(D28), blq(M3), negative(M6), negative(M9)], M9),
        # never detected: two adjacent negatives both after day 28 (site calendar days from the infusion)
        ([negative(day_n(28)), negative(day_n(29))], None),
        ([negative(day_n(29)), negative(day_n(30))], day_n(30)),
        ([negative(D1), negative(D4), negative(day_n(28)), negative(day_n(29)), negative(day_n(30))], day_n(30)),
    ],
)
def test_which_negatives_confirm(results, confirmed_on):
    facts = kinds(rules.pcr_milestones(INFUSION, results, TZ))
    assert (facts["PCR_NEGATIVE_CONFIRMED"].date if facts else None) == confirmed_on


def test_day_28_is_counted_in_site_calendar_days():
    # 23:00 in Hangzhou on day 28 is 28.58 days after the 09:00 infusion, but still day 28: not after it
    late_on_day_28 = PcrResult(dt.datetime.combine(day_n(28), dt.time(23, 0), SHANGHAI), None, LLOQ, True)
    assert rules.pcr_milestones(INFUSION, [late_on_day_28, negative(day_n(29))], TZ) == []
    # 00:30 on day 29 in Hangzhou (16:30 UTC on day 28) is day 29
    early_on_day_29 = PcrResult(dt.datetime.combine(day_n(29), dt.time(0, 30), SHANGHAI), None, LLOQ, True)
    facts = rules.pcr_milestones(INFUSION, [late_on_day_28, early_on_day_29, negative(day_n(30))], TZ)
    assert [(f.kind, f.date) for f in facts] == [("PCR_NEGATIVE_CONFIRMED", day_n(30))]


def test_a_later_result_detected_below_the_lloq_revokes_negativity():
    results = [positive(D7), negative(M3), negative(M6), blq(M9, "12")]
    facts = kinds(rules.pcr_milestones(INFUSION, results, TZ))
    assert (facts["PCR_NEGATIVE_CONFIRMED"].date, facts["PCR_NEGATIVE_CONFIRMED"].revoked_on) == (M6, M9)
    assert facts["PCR_REEMERGENCE"].date == M9
    assert "below the LLOQ" in facts["PCR_REEMERGENCE"].detail


def test_confirmed_without_any_detection_then_detected_is_a_reemergence():
    facts = kinds(rules.pcr_milestones(INFUSION, [negative(M3), negative(M6), positive(M9)], TZ))
    assert (facts["PCR_NEGATIVE_CONFIRMED"].revoked_on, facts["PCR_REEMERGENCE"].date) == (M9, M9)
