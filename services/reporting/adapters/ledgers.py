"""The three ledgers (台账) the documents name: cases (一人一案), school-age children, suspected dropouts.

Each is one SQL select over the read models with the filters, sorts and export columns it allows; every
query is wrapped in the caller's scope (jurisdiction prefix, and schools for school staff).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from services.reporting.domain import labels

Formatter = Callable[[Any], Any]


@dataclass(frozen=True)
class LedgerKind:
    name: str
    title: str
    select: str
    filters: dict[str, str]
    sorts: dict[str, str]
    default_sort: str
    tiebreak: str
    columns: tuple[tuple[str, str, Formatter | None], ...]


CASES = LedgerKind(
    name="cases",
    title="控辍保学台账（一人一案）",
    select="""
        SELECT l.case_id, l.student_id, st.name_masked, st.id_number_masked, st.grade, l.school_id,
               sc.name AS school_name, substr(l.township_code, 1, 2) AS province_code,
               substr(l.township_code, 1, 4) AS prefecture_code, l.county_code, l.township_code, l.source, l.status,
               l.causes, l.not_dropout_reason, l.gov_owners, l.edu_owners, l.legal_step, l.opened_at, l.verified_at,
               l.returned_on, l.follow_up_until, l.closed_at, l.close_reason, l.relapses, l.latest_action,
               l.latest_action_at, l.deadline_at,
               CASE WHEN l.deadline_status = 'pending' AND l.deadline_at < %(now)s THEN 'overdue'
                    ELSE l.deadline_status END AS deadline_status, l.last_event_at, g.groups AS special_groups,
               coalesce(l.visits, 0) AS visits, l.last_visit_at, coalesce(l.persuasions, 0) AS persuasions,
               l.last_persuasion_outcome, l.help_kinds, l.legal_document_no
        FROM ledger l LEFT JOIN students st USING (student_id) LEFT JOIN schools sc ON sc.school_id = l.school_id
        LEFT JOIN special_groups g ON g.student_id = l.student_id""",
    filters={
        "township_code": "x.township_code = %(township_code)s", "county_code": "x.county_code = %(county_code)s",
        "code": "x.township_code LIKE %(code)s || '%%'", "school_id": "x.school_id = %(school_id)s",
        "status": "x.status = %(status)s", "source": "x.source = %(source)s",
        "cause": "(',' || x.causes || ',') LIKE '%%,' || %(cause)s || ',%%'",
        "opened_from": "x.opened_at >= %(opened_from)s", "opened_to": "x.opened_at < %(opened_to)s",
        "overdue": "(x.deadline_status = 'overdue') = %(overdue)s",
    },
    sorts={"opened_at": "x.opened_at", "last_event_at": "x.last_event_at", "township_code": "x.township_code",
           "status": "x.status", "deadline_at": "x.deadline_at", "school_name": "x.school_name"},
    default_sort="-opened_at",
    tiebreak="x.case_id",
    columns=(
        ("case_id", "个案编号", None), ("name_masked", "姓名", None), ("id_number_masked", "身份证号", None),
        ("grade", "年级", None), ("school_name", "学校", None), ("county_code", "县（区）代码", None),
        ("county_name", "县（区）", None), ("township_code", "乡镇（街道）代码", None),
        ("township_name", "乡镇（街道）", None), ("special_groups", "特殊群体", labels.groups),
        ("source", "发现来源", labels.SOURCES.get),
        ("status", "阶段", labels.STAGES.get), ("causes", "辍学原因", labels.causes),
        ("owners_display", "劝返责任人", None),
        ("opened_at", "立案时间", None), ("verified_at", "核查时间", None), ("returned_on", "复学日期", None),
        ("closed_at", "销号时间", None), ("close_reason", "销号原因", labels.REASONS.get),
        ("latest_action", "最近措施", None), ("latest_action_at", "最近措施时间", None),
        ("visits", "家访次数", None), ("last_visit_at", "最近家访时间", None), ("persuasions", "劝返次数", None),
        ("last_persuasion_outcome", "最近劝返结果", labels.PERSUASION.get), ("help_kinds", "帮扶类型", labels.help_kinds),
        ("legal_step", "依法控辍步骤", labels.LADDER.get), ("legal_document_no", "文书编号", None),
        ("deadline_at", "期限", None), ("deadline_status", "期限状态", labels.DEADLINE.get),
    ),
)

CHILDREN = LedgerKind(
    name="children",
    title="适龄儿童少年台账",
    select="""
        SELECT s.student_id, s.name_masked, s.id_number_masked, s.school_id, sc.name AS school_name,
               s.township_code, substr(s.township_code, 1, 6) AS county_code, s.grade, s.class_name, s.enrolment,
               s.placement, s.residency, s.deferred_until, coalesce(g.groups, s.special_groups) AS special_groups
        FROM students s LEFT JOIN schools sc ON sc.school_id = s.school_id
        LEFT JOIN special_groups g ON g.student_id = s.student_id
        UNION ALL
        SELECT f.student_id, f.name_masked, f.id_number_masked, NULL, NULL, f.township_code,
               substr(f.township_code, 1, 6), NULL, NULL, 'out_of_school', NULL, 'resident', NULL,
               coalesce(g.groups, f.special_groups)
        FROM findings f LEFT JOIN special_groups g ON g.student_id = f.student_id
        WHERE f.kind = 'out_of_school' AND f.status = 'open'
          AND NOT EXISTS (SELECT 1 FROM students s2 WHERE s2.student_id = f.student_id)""",
    filters={
        "township_code": "x.township_code = %(township_code)s", "county_code": "x.county_code = %(county_code)s",
        "code": "x.township_code LIKE %(code)s || '%%'", "school_id": "x.school_id = %(school_id)s",
        "enrolment": "x.enrolment = %(enrolment)s", "grade": "x.grade = %(grade)s",
        "residency": "x.residency = %(residency)s",
    },
    sorts={"township_code": "x.township_code", "grade": "x.grade", "school_name": "x.school_name",
           "enrolment": "x.enrolment"},
    default_sort="township_code",
    tiebreak="x.student_id",
    columns=(
        ("student_id", "编号", None), ("name_masked", "姓名", None), ("id_number_masked", "身份证号", None),
        ("school_name", "学校", None), ("county_code", "县（区）代码", None), ("county_name", "县（区）", None),
        ("township_code", "乡镇（街道）代码", None), ("township_name", "乡镇（街道）", None),
        ("grade", "年级", None), ("class_name", "班级", None),
        ("enrolment", "学籍状态", lambda v: "失学" if v == "out_of_school" else labels.ENROLMENT.get(v, v)),
        ("placement", "残疾儿童安置", None), ("residency", "居住状态", labels.RESIDENCY.get),
        ("deferred_until", "延缓入学至", None), ("special_groups", "特殊群体", labels.groups),
    ),
)

SUSPECTED = LedgerKind(
    name="suspected",
    title="疑似辍学台账",
    select="""
        SELECT d.detection_id AS id, 'attendance' AS kind, d.student_id, st.name_masked, st.id_number_masked,
               d.school_id, sc.name AS school_name, d.township_code, substr(d.township_code, 1, 6) AS county_code,
               d.first_absent_day AS since, d.absent_days, d.rule AS basis, d.status, d.resolved_day, d.resolution,
               d.detected_at AS found_at, l.case_id, l.status AS case_status, g.groups AS special_groups
        FROM suspected d LEFT JOIN students st USING (student_id) LEFT JOIN schools sc ON sc.school_id = d.school_id
        LEFT JOIN ledger l ON l.trigger_id = d.detection_id LEFT JOIN special_groups g ON g.student_id = d.student_id
        UNION ALL
        SELECT f.finding_id, f.kind, f.student_id, coalesce(f.name_masked, st.name_masked),
               coalesce(f.id_number_masked, st.id_number_masked), f.school_id, sc.name, f.township_code,
               substr(f.township_code, 1, 6), f.found_on, NULL, f.reason_code,
               CASE f.status WHEN 'open' THEN 'open' ELSE 'retracted' END, NULL, f.resolution, f.found_at,
               l.case_id, l.status, coalesce(g.groups, f.special_groups)
        FROM findings f LEFT JOIN students st USING (student_id) LEFT JOIN schools sc ON sc.school_id = f.school_id
        LEFT JOIN ledger l ON l.trigger_id = f.finding_id LEFT JOIN special_groups g ON g.student_id = f.student_id""",
    filters={
        "township_code": "x.township_code = %(township_code)s", "county_code": "x.county_code = %(county_code)s",
        "code": "x.township_code LIKE %(code)s || '%%'", "school_id": "x.school_id = %(school_id)s",
        "status": "x.status = %(status)s", "kind": "x.kind = %(kind)s",
        "special_group": "(',' || x.special_groups || ',') LIKE '%%,' || %(special_group)s || ',%%'",
    },
    sorts={"found_at": "x.found_at", "township_code": "x.township_code", "since": "x.since", "status": "x.status"},
    default_sort="-found_at",
    tiebreak="x.id",
    columns=(
        ("id", "编号", None), ("kind", "发现途径", lambda v: "考勤" if v == "attendance" else labels.FINDINGS.get(v, v)),
        ("name_masked", "姓名", None), ("id_number_masked", "身份证号", None), ("school_name", "学校", None),
        ("county_code", "县（区）代码", None), ("county_name", "县（区）", None),
        ("township_code", "乡镇（街道）代码", None), ("township_name", "乡镇（街道）", None),
        ("special_groups", "特殊群体", labels.groups),
        ("since", "起始日期", None), ("absent_days", "缺课天数", None),
        ("basis", "依据", None), ("status", "状态", labels.DETECTION.get), ("resolved_day", "处理日期", None),
        ("resolution", "处理结果", None), ("found_at", "发现时间", None), ("case_id", "个案编号", None),
        ("case_status", "个案阶段", labels.STAGES.get),
    ),
)

KINDS = {k.name: k for k in (CASES, CHILDREN, SUSPECTED)}


def order_by(kind: LedgerKind, sort: str | None) -> str:
    """A whitelisted ORDER BY ('-opened_at' is descending); unknown sorts raise KeyError."""
    sort = sort or kind.default_sort
    column = kind.sorts[sort.lstrip("-")]
    direction = "DESC" if sort.startswith("-") else "ASC"
    return f"{column} {direction} NULLS LAST, {kind.tiebreak}"
