"""The ground truth applies the services' rules: streaks of unexcused school days open one case per episode,
a return during persuasion is counted, a relapse reopens the same case, and reconciliation names differences."""

from datetime import date, datetime, timezone

from simulator.truth import Row, StudentTruth, Truth, compare, table

D = [date(2026, 9, d) for d in (14, 15, 16, 17, 18, 21, 22)]
NOW = datetime(2026, 9, 30, tzinfo=timezone.utc)


def province() -> Truth:
    truth = Truth(threshold_days=2)
    truth.enrol(StudentTruth("a", "520102", "520102001", "s1", grade=8, groups=("left_behind",)))
    truth.enrol(StudentTruth("b", "520102", "520102001", "s1", grade=3))
    truth.enrol(StudentTruth("c", "520103", "520103001", "s2", grade=2))
    return truth


def test_two_unexcused_days_open_a_case_but_leave_breaks_the_streak():
    truth = province()
    truth.close_day(D[0], {"a": "absent", "b": "absent", "c": "present"})
    detected = truth.close_day(D[1], {"a": "absent", "b": "leave", "c": "present"})
    assert [s.student_id for s in detected] == ["a"]
    assert truth.close_day(D[2], {"a": "absent", "b": "absent", "c": "present"}) == []  # one open detection
    f = truth.figures(NOW)["520102"]
    assert (f["cases"], f["open_suspected_dropouts"], f["attendance_suspected_open"]) == (1, 1, 1)


def test_confirmed_dropout_persuaded_back_then_relapsing_reopens_the_same_case():
    truth = province()
    truth.close_day(D[0], {"a": "absent", "b": "present", "c": "present"})
    truth.close_day(D[1], {"a": "absent", "b": "present", "c": "present"})
    case = truth.students["a"].case
    Truth.confirm(case, ["working_away", "family"])
    Truth.legal_step(case, "return_notice", datetime(2026, 9, 23, 16, tzinfo=timezone.utc))
    assert truth.figures(NOW)["520102"]["overdue_deadlines"] == 1
    truth.close_day(D[2], {"a": "present", "b": "present", "c": "present"})
    f = truth.figures(NOW)["520102"]
    assert (f["returned"], f["confirmed_dropouts"], f["overdue_deadlines"]) == (1, 0, 0)
    assert f["cases_by_cause"] == {"family": 1, "working_away": 1}
    Truth.close(case, "returned")
    truth.close_day(D[3], {"a": "absent", "b": "present", "c": "present"})
    truth.close_day(D[4], {"a": "absent", "b": "present", "c": "present"})
    f = truth.figures(NOW)["520102"]
    assert (f["cases"], f["confirmed_dropouts"], f["returned"], f["closed"]) == (1, 1, 0, 0)
    assert truth.students["a"].case is case and case.relapses == 1


def test_a_case_verified_not_dropout_and_closed_is_followed_by_a_new_case_and_lost_transfers():
    truth = province()
    truth.close_day(D[0], {"a": "present", "b": "present", "c": "absent"})
    truth.close_day(D[1], {"a": "present", "b": "present", "c": "absent"})
    case = truth.students["c"].case
    Truth.not_dropout(case, "moved")
    truth.transfer_out("c", D[1])
    Truth.close(case, "moved")
    truth.never_enrolled("520103", ("registered_poor",), "x")
    truth.comparisons(date(2026, 10, 16))  # 31 days after the transfer: lost
    f = truth.figures(NOW)["520103"]
    assert (f["enrolled"], f["cases"], f["closed"], f["not_dropout"], f["out_of_school"]) == (0, 3, 1, 1, 1)
    assert f["special_groups"] == {"registered_poor": 1}
    assert truth.transfer_lost(date(2026, 10, 16)) == {"520103": 1}


def test_reconciliation_lists_every_measure_and_marks_differences():
    truth = province()
    expected = truth.figures(NOW)
    reported = {"520102": {**expected["520102"], "enrolled": 1}, "520103": None}
    rows = compare("dashboard", expected, reported, ("enrolled", "cases", "cases_by_stage"))
    bad = [(r.unit, r.measure, r.expected, r.reported) for r in rows if not r.ok]
    assert ("520102", "enrolled", 2, 1) in bad
    assert ("520103", "enrolled", 1, None) in bad
    assert Row("x", "u", "m", {}, None).ok is False
    text = table(rows, only_differences=True)
    assert "DIFF" in text and "520103" in text and " ok" not in text


def test_registry_findings_open_cases_that_owners_work_census_child_enrolled_and_missed_transition():
    truth = province()
    truth.never_enrolled("520102", ("left_behind",), "x")
    truth.graduate("b", date(2026, 9, 13))
    truth.transition_deadline = date(2026, 9, 21)
    assert not truth.students["b"].on_roster(True) and truth.students["b"].on_roster(False)
    truth.comparisons(date(2026, 9, 14))
    census = truth.extra_cases[0]
    assert (census.source, census.grade, truth.students["b"].case) == ("census", None, None)
    truth.comparisons(date(2026, 9, 21))  # the 小升初 deadline: the graduate is found
    transition = truth.students["b"].case
    assert (transition.source, transition.grade) == ("transition", 3)
    Truth.confirm(census, ["family"])
    f = truth.figures(NOW)["520102"]
    assert (f["confirmed_dropouts"], f["confirmed_primary"], f["confirmed_junior"]) == (1, 0, 0)
    assert (f["enrolled"], f["cases"], f["out_of_school"]) == (1, 2, 1)
    # persuaded: registered at a junior school, back at school (follow-up), no longer out of school
    truth.bring_back(census, StudentTruth("x", "520102", "520102001", "s9", grade=7, groups=("left_behind",)),
                     date(2026, 9, 22))
    f = truth.figures(NOW)["520102"]
    assert (f["enrolled"], f["enrolled_junior"], f["cases"], f["returned"], f["out_of_school"]) == (2, 2, 2, 1, 0)
    assert truth.students["x"].case is census and census.grade == 7 and census.stage == "returned"
    truth.comparisons(date(2026, 9, 23))
    assert len(truth.all_cases()) == 2  # nothing found twice


def test_lost_transfers_follow_the_provinces_own_threshold():
    truth = province()
    truth.lost_transfer_days = 10
    truth.transfer_out("c", date(2026, 9, 15))
    truth.comparisons(date(2026, 9, 25))
    assert truth.students["c"].case is None
    truth.comparisons(date(2026, 9, 26))
    assert truth.students["c"].case.source == "transfer"
    assert truth.transfer_lost(date(2026, 9, 26)) == {"520103": 1}


def test_a_transfer_received_in_time_or_an_admission_is_never_found():
    truth = province()
    truth.transfer_out("b", date(2026, 9, 15))
    assert truth.figures(NOW)["520102"]["enrolled"] == 1 and not truth.students["b"].on_roster(True)
    truth.move("b", "s3", "520102002", 3)  # 转入 at another school of the county
    truth.graduate("a", date(2026, 9, 13))
    truth.move("a", "s4", "520102002", 7)  # 小升初: admitted
    truth.transition_deadline = date(2026, 9, 21)
    truth.comparisons(date(2026, 10, 30))
    assert truth.all_cases() == [] and truth.transfer_lost(date(2026, 10, 30)) == {}
    f = truth.figures(NOW)["520102"]
    assert (f["enrolled"], f["enrolled_junior"]) == (2, 1) and truth.students["b"].on_roster(True)


def test_scorecard_truth_has_median_days_to_return_unowned_cases_and_report_timeliness():
    truth = province()
    for day in D[:2]:
        truth.close_day(day, {"a": "absent", "b": "absent", "c": "present"})
    for sid in ("a", "b"):
        Truth.confirm(truth.students[sid].case, ["family"])
    truth.close_day(D[2], {"a": "absent", "b": "present", "c": "present"})  # b back on the 16th
    truth.close_day(D[3], {"a": "absent", "b": "present", "c": "present"})
    truth.close_day(D[5], {"a": "present", "b": "present", "c": "present"})  # a back on the 21st
    truth.never_enrolled("520102", student_id="n")
    truth.comparisons(D[5])  # a census case: opened with no school, so no school's education line
    card = truth.scorecards(NOW)["520102"]
    opened = truth.students["a"].case.opened_on
    assert card["median_days_to_return"] == ((D[2] - opened).days + (D[5] - opened).days) / 2
    assert card["unowned_cases"] == 1  # the census case; a and b have owners on both lines
    assert truth.scorecards(NOW)["520103"]["median_days_to_return"] is None
    truth.report_submitted("520102", "2026-09", on_time=True)
    truth.report_submitted("520103", "2026-09", on_time=False)
    assert truth.report_timeliness("2026-09") == {
        "520102": {"report_on_time": 1.0, "reports_late": 0}, "520103": {"report_on_time": 0.0, "reports_late": 1}}
    assert truth.report_timeliness("2026-10") == {}
