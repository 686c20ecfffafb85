"""The closed vocabularies of a case, with their Chinese labels: stages, reasons, causes, help, owners, ladder."""

from __future__ import annotations

STAGE_LABELS = {
    "suspected": "疑似辍学",
    "verifying": "核查中",
    "not_dropout": "核查非辍学",
    "persuading": "劝返中",
    "escalated": "依法控辍",
    "returned": "已复学（跟踪期）",
    "closure_pending": "销号待审批",
    "closed": "已销号",
    "excluded": "不计入辍学",
}
STAGES = tuple(STAGE_LABELS)
OPEN_STAGES = tuple(s for s in STAGES if s not in ("closed", "excluded"))

NOT_DROPOUT_REASONS = {
    "in_school_elsewhere": "在外地（异地）就读",
    "moved": "已迁出本地",
    "abroad": "出国（境）",
    "deceased": "已死亡",
    "record_error": "数据错误（重复、身份信息有误等）",
    "deferral_or_suspension": "经批准延缓入学或休学",
    "special_placement": "特殊教育安置（特教学校、随班就读、送教上门）",
}
DROPOUT_CAUSES = {
    "learning_difficulty": "学习困难、厌学",
    "working_away": "外出打工",
    "poverty": "家庭经济困难",
    "illness_or_disability": "疾病或残疾",
    "family": "家庭原因",
    "early_marriage": "早婚早育",
    "distance_or_conditions": "路途遥远或办学条件",
    "other": "其他",
}
CLOSURE_REASONS = {"returned": "劝返复学", **NOT_DROPOUT_REASONS, "trigger_retracted": "来源更正（缺勤记录撤销）"}
EXCLUSION_BASES = {"severe_disability": "重度残疾无学习能力", "severe_illness": "重病无学习能力"}

HELP_TYPES = {
    "financial_aid": "资助",
    "two_exemptions_one_subsidy": "两免一补",
    "boarding_subsidy": "寄宿生生活补助",
    "nutrition_programme": "营养改善计划",
    "psychological_support": "心理辅导",
    "pairing": "结对帮扶",
    "home_teaching": "送教上门",
    "transport": "交通帮扶（接送、交通补助）",
    "legal_aid": "法律援助",
    "other_department": "其他部门协同帮扶",
    "other": "其他帮扶",
}
# What each kind of help counts under in ledgers and reports (the public HelpProvided category).
HELP_CATEGORIES = {
    "financial_aid": "subsidy", "two_exemptions_one_subsidy": "subsidy", "nutrition_programme": "subsidy",
    "boarding_subsidy": "boarding", "psychological_support": "psychological", "pairing": "other",
    "home_teaching": "home_teaching", "transport": "transport", "legal_aid": "legal_aid",
    "other_department": "other_department", "other": "other",
}
PERSUASION_METHODS = {"home_visit": "上门家访", "phone": "电话", "meeting": "约谈", "letter": "书面", "online": "网络"}
PERSUASION_PLACES = {
    "home": "学生家中", "school": "学校", "village_office": "村（社区）委员会", "township_office": "乡镇政府",
    "workplace": "务工地点", "remote": "电话或网络", "other": "其他地点",
}
RELATIONS = {
    "child": "学生本人", "father": "父亲", "mother": "母亲", "grandparent": "祖父母（外祖父母）",
    "guardian": "其他监护人", "relative": "其他亲属", "employer": "用工单位", "other": "其他",
}
PERSUASION_OUTCOMES = {
    "agreed_to_return": "同意返校",
    "undecided": "仍在考虑",
    "refused": "拒绝返校",
    "unreachable": "联系不上",
}
EVIDENCE_KINDS = {
    "photo": "照片",
    "document": "文书",
    "certificate": "证明材料",
    "enrolment_proof": "就读证明",
    "assessment": "鉴定或评估",
    "signed_notice": "签收回执",
    "other": "其他",
}

# 双线四包: the government line down to the household, the education line down to the student.
OWNER_SLOTS = {
    "township": ("government", "乡镇包村干部"),
    "village": ("government", "村（社区）干部"),
    "group": ("government", "组长"),
    "school_leader": ("education", "包年级校领导"),
    "head_teacher": ("education", "班主任"),
    "subject_teacher": ("education", "包生科任教师"),
}
LINES = {"government": "政府线", "education": "教育线"}

# 依法控辍: each step needs the previous one, or an override with a reason by an allowed role.
LADDER = ("return_notice", "correction_order", "legal_documents", "court_referral")
STEP_LABELS = {
    "return_notice": "书面复学通知书（限期返校）",
    "correction_order": "责令限期改正",
    "legal_documents": "司法文书",
    "court_referral": "提请法院（巡回法庭）",
}
STEP_ROLES = {
    "return_notice": ("school_staff", "head_teacher", "township_officer", "county_officer"),
    "correction_order": ("township_officer", "county_officer"),
    "legal_documents": ("justice_officer",),
    "court_referral": ("justice_officer", "county_officer"),
}
OVERRIDE_ROLES = ("county_officer",)
CLOSURE_APPROVER_ROLES = ("county_officer",)
