"""Chinese labels for codes shown to users (pages, exports); identifiers stay English."""

STAGES = {
    "suspected": "疑似辍学", "not_dropout": "核查非辍学", "confirmed": "确认辍学·劝返中", "legal": "依法控辍",
    "returned": "已复学·跟踪中", "closed": "已销号", "excluded": "不计入辍学",
}
SOURCES = {"attendance": "考勤", "census": "人口比对", "transfer": "转学未接收", "transition": "小升初未衔接",
           "report": "上报"}
CAUSES = {
    "learning_difficulty": "学困厌学", "working_away": "外出打工", "poverty": "家庭贫困",
    "illness_or_disability": "疾病或残疾", "family": "家庭原因", "early_marriage": "早婚",
    "distance_or_conditions": "路远或办学条件", "other": "其他",
}
REASONS = {
    "returned": "已复学", "in_school_elsewhere": "在外地就读", "moved": "已迁出", "abroad": "出国（境）",
    "deceased": "死亡", "record_error": "数据错误", "deferral_or_suspension": "延缓入学或休学",
    "special_placement": "特教安置", "trigger_retracted": "触发依据撤销",
}
LADDER = {"return_notice": "书面复学通知书", "correction_order": "责令限期改正", "legal_documents": "司法文书",
          "court_referral": "移送法院"}
LINES = {"government": "政府线", "education": "教育线"}
SLOTS = {"township": "乡镇干部", "village": "村干部", "group": "组长", "school_leader": "校领导",
         "head_teacher": "班主任", "subject_teacher": "科任教师"}
ENROLMENT = {
    "enrolled": "在读", "suspended": "休学", "transferred_out": "已转出", "graduated_primary": "小学毕业",
    "graduated_junior": "初中毕业", "closed": "学籍注销", "unregistered": "无学籍",
}
RESIDENCY = {"resident": "常住", "deceased": "死亡", "moved_away": "迁出", "emigrated": "出国（境）"}
FINDINGS = {"out_of_school": "失学（未入学）", "transfer_lost": "转出未转入", "transition_missed": "小升初未衔接"}
DETECTION = {"open": "待处理", "resumed": "已到校", "retracted": "已撤销"}
LEVELS = {2: "省", 4: "市（州）", 6: "县（区）", 9: "乡镇（街道）"}
SPECIAL_GROUPS = {
    "left_behind": "留守儿童", "migrant": "随迁子女", "disabled": "残疾儿童", "orphan": "孤儿",
    "de_facto_unsupported": "事实无人抚养", "hardship": "困境儿童", "registered_poor": "建档立卡", "poverty_exit": "脱贫户",
    "monitored": "监测户", "marginal": "边缘户", "returning": "返乡儿童", "single_parent": "单亲家庭",
    "learning_difficulty": "学困生",
}
DEADLINE = {"pending": "期限内", "overdue": "已逾期", "met": "已完成"}
PERSUASION = {"agreed_to_return": "同意返校", "undecided": "仍在考虑", "refused": "拒绝返校", "unreachable": "联系不上"}
PERSUASION_METHODS = {"home_visit": "上门", "phone": "电话", "meeting": "约谈", "letter": "书面", "online": "网络"}
HELP = {
    "subsidy": "资助补助", "home_teaching": "送教上门", "transport": "交通帮扶", "boarding": "寄宿", "psychological": "心理辅导",
    "legal_aid": "法律援助", "other_department": "部门协同", "other": "其他帮扶",
}


def help_kinds(codes: str | None) -> str:
    """'subsidy,transport' as '资助补助、交通帮扶'."""
    return "、".join(HELP.get(c, c) for c in (codes or "").split(",") if c)


def causes(codes: str | None) -> str:
    """'poverty,family' as '家庭贫困、家庭原因'."""
    return "、".join(CAUSES.get(c, c) for c in (codes or "").split(",") if c)


def groups(codes: str | None) -> str:
    """'left_behind,orphan' as '留守儿童、孤儿'."""
    return "、".join(SPECIAL_GROUPS.get(c, c) for c in (codes or "").split(",") if c)


def parse_slots(slots: str | None) -> dict[str, str]:
    """'township=gov-001;village=v-7' as {slot: user id}: total, as a stored row may be anything (a part without
    '=' is skipped); ';' and '%' inside a user id are stored escaped (``format_slots``) and come back as they were."""
    held = (part.split("=", 1) for part in (slots or "").split(";") if "=" in part)
    return {k: v.replace("%3B", ";").replace("%25", "%") for k, v in held}


def format_slots(slots: dict[str, str]) -> str | None:
    """{slot: user id} as 'slot=user;...' sorted by slot, with '%' and ';' in a user id escaped; None when empty."""
    return ";".join(f"{k}={v.replace('%', '%25').replace(';', '%3B')}" for k, v in sorted(slots.items())) or None


def line_owners(slots: str | None, line: str) -> str:
    """'township=gov-001;village=v-7' on the government line as '政府线 乡镇干部：gov-001、村干部：v-7' ('' when none);
    slots in the ladder's order, unknown slots after them as they are."""
    held = list(parse_slots(slots).items())
    order = list(SLOTS)
    held.sort(key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0]))
    if not held:
        return ""
    return f"{LINES.get(line, line)} " + "、".join(f"{SLOTS.get(k, k)}：{v}" for k, v in held)


def owners(gov_owners: str | None, edu_owners: str | None) -> str:
    """Both lines of a case's owners (劝返责任人): '政府线 乡镇干部：gov-001；教育线 班主任：ht-f9a0'."""
    return "；".join(x for x in (line_owners(gov_owners, "government"), line_owners(edu_owners, "education")) if x)


def with_owners(row: dict) -> dict:
    """A case row with its owners for people (``*_display``) beside the stored slots, which stay as they are."""
    gov, edu = row.get("gov_owners"), row.get("edu_owners")
    row["gov_owners_display"] = line_owners(gov, "government") or None
    row["edu_owners_display"] = line_owners(edu, "education") or None
    row["owners_display"] = owners(gov, edu) or None
    return row
