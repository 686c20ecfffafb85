"""Who may call which registry route: the service's role matrix (rendered into the README by `baoxue roles`).

Children's personal data (the student record, a child's history, provenance, search by ID number or name) is read
only by those whose work is the registration itself: schools, the government line's officers and auditors.
Village cadres and justice officers work on the cases they are assigned in casework; attendance systems only push
check-ins and leave to attendance; neither reads the registry.
"""

from __future__ import annotations

from services.runtime.access import Allow, At, ByParam, RoleMatrix
from services.runtime.readaudit import READS_ROUTE, reads_row

OFFICERS = ("township_officer", "county_officer", "prefecture_officer", "province_officer")
UPPER = ("county_officer", "prefecture_officer", "province_officer")
SCHOOL = ("school_staff", *OFFICERS)
DATA_EXCHANGE = (*UPPER, "system")  # the departments' feeds (公安, 民政, 残联, 乡村振兴) and other services
PERSONAL_READERS = ("school_staff", "head_teacher", *OFFICERS, "auditor")
HISTORY_READERS = ("school_staff", *OFFICERS, "auditor")
PROVENANCE_READERS = (*OFFICERS, "auditor")  # the departments' raw data (special groups, guardians): government line
PLAIN_READERS = ("school_staff", "head_teacher", *OFFICERS, "village_cadre", "justice_officer", "auditor", "system")

LIFECYCLE = Allow(*SCHOOL, note="the student's (and a named school's) township must be in the caller's jurisdiction")

MATRIX = RoleMatrix({
    READS_ROUTE: reads_row(),
    "POST /v1/schools": Allow(*UPPER),
    "GET /v1/schools/{school_id}": Allow(*PLAIN_READERS, note="no personal data"),
    "GET /v1/schools": Allow(*PLAIN_READERS, note="no personal data"),
    "POST /v1/schools/{school_id}/close": Allow(*OFFICERS),
    "POST /v1/students": Allow("school_staff", "township_officer", "county_officer"),
    "GET /v1/students/{student_id}": Allow(*PERSONAL_READERS, note="personal data (masked)"),
    "POST /v1/students/{student_id}/transfer-out": LIFECYCLE,
    "POST /v1/students/{student_id}/transfer-in": Allow(*SCHOOL, note="the receiving school's jurisdiction"),
    "POST /v1/students/{student_id}/suspend": LIFECYCLE,
    "POST /v1/students/{student_id}/resume": LIFECYCLE,
    "POST /v1/students/{student_id}/graduate": LIFECYCLE,
    "POST /v1/students/{student_id}/admit": Allow(*SCHOOL, note="the junior school's jurisdiction"),
    "POST /v1/students/{student_id}/place": LIFECYCLE,
    "POST /v1/imports/{kind}": ByParam("kind", {
        "students": Allow(*SCHOOL),
        "population": Allow(*DATA_EXCHANGE),
        "schools": Allow(*DATA_EXCHANGE),
    }, note="rows outside the caller's jurisdiction are refused"),
    "POST /v1/population/records": Allow(*DATA_EXCHANGE),
    "POST /v1/population/life-events": Allow(*DATA_EXCHANGE),
    "POST /v1/population/life-events/corrections": Allow(*DATA_EXCHANGE),
    "POST /v1/students/{student_id}/erasure": Allow(At("county_officer", 6),
                                                    note="依法删除: the child's county; approver other than the requester"),
    "POST /v1/population/deferrals": Allow(At("county_officer", 6), note="延缓入学 is approved by the county"),
    "POST /v1/population/merges": Allow(*DATA_EXCHANGE),
    "POST /v1/population/merges/undo": Allow(*DATA_EXCHANGE),
    "POST /v1/comparisons/run": Allow(*OFFICERS),
    "GET /v1/children": Allow(*HISTORY_READERS, note="personal data (masked); search by ID number or name"),
    "GET /v1/children/{student_id}/history": Allow(*HISTORY_READERS, note="personal data: every event about a child"),
    "GET /v1/children/by-id-number/{id_number}/provenance": Allow(*PROVENANCE_READERS,
                                                                  note="personal data: who said what about a child"),
    "GET /v1/counts": Allow(*PLAIN_READERS, note="counts only"),
    "GET /v1/jurisdictions": Allow(*PLAIN_READERS),
    "POST /v1/jurisdictions/load": Allow(*UPPER),
    "POST /v1/jurisdictions/{code}/changes": Allow(*UPPER),
    "POST /v1/jurisdictions": Allow(*UPPER),
    "PUT /v1/jurisdictions/{code}/comparison-rules": Allow(*UPPER),
    "GET /v1/jurisdictions/{code}/comparison-rules": Allow(*PLAIN_READERS),
}, service="registry")
