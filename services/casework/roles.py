"""Who may call which casework route: the service's role matrix (rendered into the README by `baoxue roles`).

Cases are read by everyone who works or supervises them on both lines (village cadres and justice officers
included: they are named owners and legal-step takers); the work itself is done by the owners; the county
education bureau alone approves closures and exclusions; auditors read and verify, and change nothing.
Attendance systems and other services never call casework (it learns from their events).
"""

from __future__ import annotations

from services.runtime.access import Allow, At, ByParam, Public, RoleMatrix
from services.runtime.readaudit import READS_ROUTE, reads_row

READ = ("head_teacher", "school_staff", "village_cadre", "township_officer", "county_officer", "prefecture_officer",
        "province_officer", "justice_officer", "auditor")
REPORT = ("head_teacher", "school_staff", "village_cadre", "township_officer", "county_officer")
WORK = REPORT
LEGAL = ("head_teacher", "school_staff", "township_officer", "county_officer", "justice_officer")
RETURN = ("head_teacher", "school_staff", "township_officer", "county_officer")
CLOSE = ("school_staff", "township_officer", "county_officer")
OWNERS = ("school_staff", "township_officer", "county_officer")
MAP_EDITORS = ("township_officer", "county_officer")
QUEUE = ("head_teacher", "school_staff", "village_cadre", "township_officer", "county_officer", "justice_officer")
SUPERVISORS = ("school_staff", "township_officer", "county_officer", "prefecture_officer", "province_officer")
STORE_AUDIT = ("county_officer", "prefecture_officer", "province_officer", "auditor")
CASE = "the case's township must be in the caller's jurisdiction"
CASE_DATA = CASE + "; personal data (masked)"
COUNTY = At("county_officer", 6)
DOCUMENT_ISSUERS = ByParam("kind", {  # who may issue which document (the notices: whoever may take that legal step)
    "return_notice": Allow("school_staff", "head_teacher", "township_officer", "county_officer", note=CASE),
    "correction_order": Allow("township_officer", "county_officer", note=CASE),
    "visit_record": Allow(*WORK, note=CASE),
    "case_file": Allow(*READ, note=CASE + "; 一人一案档案 for auditors"),
    "legal_documents": Allow("township_officer", "county_officer", "justice_officer",
                             note=CASE + "; 提请发放司法文书函 (education bureau and township ask, the justice office records)"),
    "court_referral": Allow("justice_officer", "county_officer", note=CASE + "; 提请人民法院依法处理函"),
}, note=CASE)
PAGE = "static page and its files; its data comes from the authenticated routes"

MATRIX = RoleMatrix({
    READS_ROUTE: reads_row(),
    "POST /v1/cases": Allow(*REPORT, note="the reported township must be in the caller's jurisdiction"),
    "GET /v1/cases": Allow(*READ, note="cases inside the caller's jurisdiction"),
    "GET /v1/cases/{case_id}": Allow(*READ, note=CASE_DATA),
    "GET /v1/cases/{case_id}/history": Allow(*READ, note=CASE_DATA),
    "GET /v1/cases/{case_id}/as-of": Allow(*READ, note=CASE_DATA),
    "GET /v1/cases/{case_id}/verify": Allow(*READ, note=CASE + "; a case whose opening is unreadable: admins and "
                                                       "province auditors only (checked in the handler: it depends on the stored events)"),
    "GET /v1/audit/verify": Allow(*STORE_AUDIT, note="problems listed only for cases inside the caller's jurisdiction"),
    "POST /v1/cases/{case_id}/verification/start": Allow(*WORK, note=CASE),
    "POST /v1/cases/{case_id}/verification": Allow(*WORK, note=CASE),
    "POST /v1/cases/{case_id}/home": Allow(*WORK, note=CASE),
    "POST /v1/cases/{case_id}/owners/auto": Allow(*OWNERS, note=CASE),
    "PUT /v1/cases/{case_id}/owners/{slot}": Allow(*OWNERS, note=CASE + "; school staff only the education line's "
                                                   "slots (checked in the handler: it depends on the slot's line)"),
    "POST /v1/cases/{case_id}/visits": Allow(*WORK, note=CASE),
    "POST /v1/cases/{case_id}/persuasions": Allow(*WORK, note=CASE),
    "POST /v1/cases/{case_id}/help": Allow(*WORK, note=CASE),
    "POST /v1/cases/{case_id}/plans": Allow(*WORK, note=CASE),
    "POST /v1/cases/{case_id}/evidence": Allow(*WORK, note=CASE),
    "POST /v1/cases/{case_id}/legal-steps": Allow(*LEGAL, note=CASE),
    "POST /v1/cases/{case_id}/return": Allow(*RETURN, note=CASE),
    "POST /v1/cases/{case_id}/closure": Allow(*CLOSE, note=CASE),
    "POST /v1/cases/{case_id}/closure/decision": Allow(COUNTY, note=CASE + "; 县教育局审批"),
    "POST /v1/cases/{case_id}/exclusion": Allow(COUNTY, note=CASE + "; 县教育局认定"),
    "POST /v1/cases/{case_id}/retractions": Allow(*WORK, note=CASE),
    "GET /v1/responsibility-maps/{township_code}": Allow(*QUEUE, "auditor", note="the township in the caller's "
                                                         "jurisdiction"),
    "PUT /v1/responsibility-maps/{township_code}": Allow(*MAP_EDITORS),
    "POST /v1/responsibility-maps/{township_code}/csv": Allow(*MAP_EDITORS),
    "POST /v1/responsibility-maps/{township_code}/entries": Allow(*MAP_EDITORS),
    "DELETE /v1/responsibility-maps/{township_code}/entries": Allow(*MAP_EDITORS),
    "POST /v1/cases/{case_id}/documents/{kind}": DOCUMENT_ISSUERS,
    "GET /v1/cases/{case_id}/documents/{code}.pdf": Allow(*READ, note=CASE_DATA + "; read audit"),
    "POST /v1/cases/{case_id}/documents/{code}/withdrawal": Allow(*WORK, "justice_officer", note=CASE + "; only a role that may issue "
                                                                  "the document's kind (checked in the handler: it "
                                                                  "depends on the document)"),
    "GET /v1/documents/verify/{code}": Public("shows no personal data: case number, kind, issuing body, dates, "
                                              "valid or withdrawn; an 80-bit code cannot be guessed"),
    "GET /v1/queue": Allow(*QUEUE, note="the caller's own work"),
    "GET /v1/owners/{user_id}/queue": Allow(*SUPERVISORS, note="an owner's work inside the caller's jurisdiction"),
    "POST /v1/cases/{case_id}/photos": Allow(*WORK, note=CASE + "; JPEG/PNG/WebP, the type read from its bytes"),
    "GET /v1/cases/{case_id}/photos/{sha256}": Allow(*READ, note=CASE_DATA.replace(" (masked)", " (a photo; the view is audited)")),
    "GET /ui": Public("a redirect to the field page"),
    "GET /ui/field": Public(PAGE),
    "GET /ui/field-sw.js": Public(PAGE),
    "GET /ui/static/{name}": Public(PAGE),
}, service="casework")
