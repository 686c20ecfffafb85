"""Message texts (Simplified Chinese, masked child names only): one place, so wording is reviewed once."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Shanghai")

CASE_OPENED = "case_opened_head_teacher"
SUSPECTED_DROPOUT_TOWNSHIP = "suspected_dropout_township"
SUSPECTED_DROPOUT_COUNTY = "suspected_dropout_county"
OWNER_ASSIGNED = "owner_assigned"
DEADLINE_PASSED_OWNER = "deadline_passed_owner"
DEADLINE_PASSED_ESCALATION = "deadline_passed_escalation"
DEADLINE_APPROACHING_OWNER = "deadline_approaching_owner"
CASE_ESCALATED_OWNER = "case_escalated_owner"
CASE_ESCALATED_TOWNSHIP = "case_escalated_township"
CASE_ESCALATED_JUSTICE = "case_escalated_justice"
LEGAL_STEP_COUNTY = "legal_step_county"
MONTHLY_REPORT_DUE = "monthly_report_due"
MONTHLY_REPORT_OVERDUE = "monthly_report_overdue"
INSPECTION_FINDING = "inspection_finding"
INSPECTION_ORDERED = "inspection_rectification_ordered"
INSPECTION_REJECTED = "inspection_rectification_rejected"
INSPECTION_DUE = "inspection_rectification_due"
INSPECTION_ESCALATED = "inspection_finding_escalated"

_REPORT = (
    "【辍学报告】{recipient}：{township_code} 辖区学生 {student_name} 自{first_day}起连续{days}个上学日无故缺勤，"
    "达到疑似辍学标准（{threshold_days}个上学日）。按辍学报告制，学校已同时报告乡镇人民政府和县教育局，请立即组织核查劝返。"
)
_LEGAL = "【依法控辍】{recipient}：学生 {student_name} 的案件已进入“{step_name}”阶段{deadline}，请依职责办理。"

TEMPLATES = {
    CASE_OPENED: "【控辍保学】{recipient_name}老师：您班级的学生 {student_name} 被识别为疑似辍学，请于24小时内家访核实。",
    SUSPECTED_DROPOUT_TOWNSHIP: _REPORT,
    SUSPECTED_DROPOUT_COUNTY: _REPORT,
    OWNER_ASSIGNED: "【控辍保学】{recipient}：您已被确定为学生 {student_name} 的劝返责任人（{slots}），请尽快家访劝返，并如实记录每次劝返情况。",
    DEADLINE_PASSED_OWNER: "【控辍保学·期限提醒】{recipient}：学生 {student_name} 的案件“{step_name}”期限已于{due_at}届满，请立即跟进办理。",
    DEADLINE_APPROACHING_OWNER: (
        "【控辍保学·到期提醒】{recipient}：学生 {student_name} 的案件“{step_name}”期限将于{last_day}届满（不足{days}天），"
        "请抓紧办理并如实记录。"
    ),
    DEADLINE_PASSED_ESCALATION: (
        "【控辍保学·升级提醒】{recipient}：{township_code} 辖区学生 {student_name} 的案件“{step_name}”期限已于{due_at}届满"
        "仍未办结，请督促责任人落实。"
    ),
    CASE_ESCALATED_OWNER: "【控辍保学】{recipient}：学生 {student_name} 的案件已进入“{step_name}”阶段{deadline}，请配合推进劝返。",
    CASE_ESCALATED_TOWNSHIP: _LEGAL,
    CASE_ESCALATED_JUSTICE: _LEGAL,
    LEGAL_STEP_COUNTY: (
        "【依法控辍·县级知悉】{recipient}：{township_code} 辖区学生 {student_name} 的案件已进入“{step_name}”阶段"
        "{document}{deadline}，请督导乡镇和学校依法推进。"
    ),
    MONTHLY_REPORT_DUE: "【月报提醒】{recipient}：{unit}{month}的控辍保学月报尚未上报，请于{due_on}前完成上报（月报告制度）。",
    MONTHLY_REPORT_OVERDUE: (
        "【月报逾期】{recipient}：{unit}{month}的控辍保学月报已超过报送期限（{due_on}）仍未上报，请督促其立即上报。"
    ),
    INSPECTION_FINDING: (
        "【督导检查】{recipient}：{inspection}督导检查发现{unit}存在问题“{finding}”（{severity}），"
        "请按要求准备整改，整改通知另行下达。"
    ),
    INSPECTION_ORDERED: (
        "【督导整改通知】{recipient}：{unit}的督导检查问题“{finding}”须于{deadline}前完成整改并报送整改情况及佐证材料。"
    ),
    INSPECTION_REJECTED: (
        "【督导整改退回】{recipient}：{unit}报送的“{finding}”整改情况未通过验收（{reason}），"
        "请于{deadline}前重新整改并报送。"
    ),
    INSPECTION_DUE: (
        "【督导整改提醒】{recipient}：{unit}的督导检查问题“{finding}”整改期限为{deadline}，还剩{days_left}天，"
        "请抓紧整改并报送整改情况。"
    ),
    INSPECTION_ESCALATED: (
        "【督导问责提醒】{recipient}：{unit}的督导检查问题“{finding}”整改期限（{deadline}）已过仍未报送整改情况，"
        "已上报至贵单位，请督促整改并依规问责。"
    ),
}
# 督导检查问题类型 and 退回原因 by code (the codes of the inspection contracts; services/reporting README)
FINDING_NAMES = {
    "ledger_incomplete": "控辍保学台账不完整", "owner_missing": "劝返责任人未落实",
    "case_overdue": "劝返复学超期未办结", "report_late": "月报告迟报漏报",
    "data_mismatch": "学籍与台账数据不一致", "follow_up_missing": "复学后跟踪帮扶缺失",
    "attendance_unrecorded": "日常考勤未落实", "policy_unpublicised": "控辍保学政策宣传不到位",
}
SEVERITY_NAMES = {"general": "一般", "serious": "较重", "grave": "严重"}
REJECTION_NAMES = {"incomplete": "整改不到位", "evidence_missing": "佐证材料不足", "not_verified": "现场核查未通过"}

STEP_NAMES = {
    "return_notice": "书面复学通知书",
    "correction_order": "责令限期改正",
    "legal_documents": "司法文书",
    "court_referral": "诉讼（法院）",
    None: "复学跟踪",
}
SLOT_NAMES = {
    "township": "政府线·乡镇干部",
    "village": "政府线·村干部",
    "group": "政府线·村民组长",
    "school_leader": "教育线·学校领导",
    "head_teacher": "教育线·班主任",
    "subject_teacher": "教育线·任课教师",
}
UNKNOWN_STUDENT = "（姓名待学籍登记）"
UNIT_LEVELS = {"school": "学校", "township": "乡镇（街道）", "county": "县（区）", "prefecture": "市（州）", "province": "省"}
LEVEL_OF_CODE = {2: "province", 4: "prefecture", 6: "county", 9: "township"}


def unit_of(code: str, school_id: str | None) -> str:
    """A unit named by its code (and school id) as people read it: level and code."""
    return unit_label("school" if school_id else LEVEL_OF_CODE.get(len(code), ""), code, school_id).strip()


def unit_label(level: str, code: str, school_id: str | None) -> str:
    """A reporting unit as people read it in a reminder: its level and code (or school id)."""
    return f"{UNIT_LEVELS.get(level, '辖区')} {school_id or code} "


def month_label(month: str) -> str:
    year, _, m = month.partition("-")
    return f"{year}年{int(m)}月"


def render(template: str, **fields: str) -> str:
    """The user-facing text of a template."""
    return TEMPLATES[template].format(**fields)


def local_time(at: datetime) -> str:
    """A moment as people read it locally, e.g. 2025年09月15日 16:30."""
    return at.astimezone(LOCAL).strftime("%Y年%m月%d日 %H:%M")


def local_day(day: date) -> str:
    return day.strftime("%Y年%m月%d日")


def last_day(due_at: datetime) -> str:
    """A deadline kept as the end of its day (the next local midnight) as the day it lasts through."""
    return local_day((due_at.astimezone(LOCAL) - timedelta(microseconds=1)).date())


def deadline_clause(deadline_at: datetime | None) -> str:
    return f"，限期至{local_time(deadline_at)}" if deadline_at is not None else ""


def document_clause(document_no: str | None) -> str:
    return f"（文书编号：{document_no}）" if document_no else ""


def greeting(name: str | None) -> str:
    """How a recipient is addressed: by name when the directory knows it."""
    return f"{name}同志" if name else "您好"

# E-mail subjects per template (the body is the template's text); templates without one use "default".
SUBJECTS = {
    "default": "【控辍保学】工作提醒",
    SUSPECTED_DROPOUT_TOWNSHIP: "【辍学报告】疑似辍学学生报告",
    SUSPECTED_DROPOUT_COUNTY: "【辍学报告】疑似辍学学生报告",
    DEADLINE_PASSED_OWNER: "【控辍保学】办理期限已届满",
    DEADLINE_PASSED_ESCALATION: "【控辍保学】办理期限届满升级提醒",
    DEADLINE_APPROACHING_OWNER: "【控辍保学】办理期限即将届满",
    CASE_ESCALATED_TOWNSHIP: "【依法控辍】案件进入法定程序",
    CASE_ESCALATED_JUSTICE: "【依法控辍】案件进入法定程序",
    INSPECTION_FINDING: "【督导检查】检查发现问题",
    INSPECTION_ORDERED: "【督导检查】整改通知",
    INSPECTION_REJECTED: "【督导检查】整改退回",
    INSPECTION_DUE: "【督导检查】整改期限提醒",
    INSPECTION_ESCALATED: "【督导检查】逾期未整改上报",
}
