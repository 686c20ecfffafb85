"""Who may call which reporting route: the service's role matrix (rendered into the README by `baoxue roles`).

Ledgers, dashboards, case timelines and the BI feed are read by the officers of the government and education
lines, school staff (their schools) and auditors; not by village cadres, head teachers or justice officers, who
work on their own cases in casework, nor by machine clients. Monthly reports are submitted by their own unit and
approved or sent back from above. Inspections (督导检查) are planned and judged by county officers and
above; the inspected unit reports its rectification. The web pages are static and fetch everything through these routes.
"""

from __future__ import annotations

from services.runtime.access import Allow, At, Public, RoleMatrix
from services.runtime.readaudit import READS_ROUTE, reads_row

OFFICERS = ("township_officer", "county_officer", "prefecture_officer", "province_officer")
READERS = ("school_staff", *OFFICERS, "auditor")
SCOPE = "rows inside the caller's jurisdiction (school staff bound to schools: those schools)"
INSPECTORS = ("county_officer", "prefecture_officer", "province_officer")  # 教育督导: county level and above
JUDGED = "only the inspecting level (the inspection's jurisdiction inside the caller's)"
PAGE = ("a static page or asset with no data: the page asks the API with the token the user pasted, "
        "and that request is checked")

MATRIX = RoleMatrix({
    READS_ROUTE: reads_row(),
    "POST /v1/inspections": Allow(*INSPECTORS, note="an inspection of a jurisdiction inside the caller's"),
    "GET /v1/inspections/findings": Allow(*READERS, note=SCOPE),
    "GET /v1/inspections/alerts": Allow(*READERS, note="alerts addressed to units inside the caller's jurisdiction"),
    "GET /v1/inspections/notice": Allow(*READERS, note=SCOPE + "; JSON or PDF (通报)"),
    "GET /v1/inspections/{inspection_id}": Allow(*READERS, note="the inspecting level sees all, a unit its own findings"),
    "POST /v1/inspections/{inspection_id}/findings": Allow(*INSPECTORS, note=JUDGED),
    "POST /v1/inspections/{inspection_id}/findings/{finding_id}/order": Allow(*INSPECTORS, note=JUDGED),
    "POST /v1/inspections/{inspection_id}/findings/{finding_id}/report": Allow(
        "school_staff", *OFFICERS, note="only the inspected unit itself"),
    "POST /v1/inspections/{inspection_id}/findings/{finding_id}/accept": Allow(*INSPECTORS, note=JUDGED),
    "POST /v1/inspections/{inspection_id}/findings/{finding_id}/reject": Allow(*INSPECTORS, note=JUDGED),
    "GET /v1/exchange/provincial/ledger": Allow(*INSPECTORS, note=SCOPE + "; personal data (masked)"),
    "POST /v1/exchange/provincial/marks": Allow(*INSPECTORS, note=SCOPE + "; writes nothing"),
    "GET /v1/ledger": Allow(*READERS, note=SCOPE + "; personal data (masked)"),
    "GET /v1/ledgers/{kind}": Allow(*READERS, note=SCOPE + "; personal data (masked)"),
    "GET /v1/ledgers/{kind}/export": Allow(*READERS, note=SCOPE + "; personal data (masked)"),
    "GET /v1/cases/{case_id}/timeline": Allow(*READERS, note=SCOPE + "; personal data (masked)"),
    "GET /v1/dashboard/counties": Allow(*READERS, note=SCOPE),
    "GET /v1/dashboard/counties/{county_code}": Allow(*READERS, note=SCOPE),
    "GET /v1/dashboard/{code}": Allow(*READERS, note=SCOPE),
    "GET /v1/dashboard/{township_code}/schools/{school_id}": Allow(*READERS, note=SCOPE),
    "GET /v1/bi": Allow(*READERS),
    "GET /v1/bi/{dataset}": Allow(*READERS, note=SCOPE),
    "GET /v1/reports": Allow(*READERS, note=SCOPE),
    "POST /v1/reports/seal": Allow(At("province_officer", 2), note="normally the scheduler"),
    "POST /v1/reports/restate": Allow("province_officer", "auditor"),
    "GET /v1/reports/{report_id}": Allow(*READERS, note=SCOPE),
    "GET /v1/reports/{report_id}/download": Allow(*READERS, note=SCOPE),
    "POST /v1/reports/{report_id}/submit": Allow("school_staff", *OFFICERS, note="only the report's own unit"),
    "POST /v1/reports/{report_id}/approve": Allow(*OFFICERS, note="only the level above"),
    "POST /v1/reports/{report_id}/send-back": Allow(*OFFICERS, note="only the level above"),
    "GET /v1/scorecards/{code}": Allow(*READERS, note="units inside the caller's own jurisdiction"),
    "GET /v1/scorecards/{township_code}/schools/{school_id}": Allow(*READERS, note="units inside the caller's own jurisdiction"),
    "GET /v1/scorecards/{code}/cases": Allow(*READERS, note="the cases behind a figure, inside the caller's jurisdiction"),
    "GET /v1/scorecards/config/{code}": Allow(*READERS, note="units inside the caller's own jurisdiction"),
    "PUT /v1/scorecards/config/{code}": Allow(At("province_officer", 2), At("prefecture_officer", 4),
                                              note="a new version from a day on, inside the caller's jurisdiction"),
    "GET /": Public("a redirect to the dashboard page"),
    "GET /ui/{page}": Public(PAGE),
    "GET /ui/static/{name}": Public(PAGE),
}, service="reporting")
WITHOUT_REPORTS = MATRIX.without("/v1/reports").without("/v1/scorecards")
