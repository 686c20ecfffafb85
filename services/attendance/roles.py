"""Who may call which attendance route: the service's role matrix (rendered into the README by `baoxue roles`).

Attendance systems (machine clients) only push check-ins and synced leave for the schools their token names; a
school's day summary, roster and leave are read by the school and the officers above it; calendars, cut-offs and
rules are set by the county and above and read by anyone who works by them.
"""

from __future__ import annotations

from services.runtime.access import Allow, At, RoleMatrix

CHECKIN = ("attendance_system", "school_staff", "head_teacher", "township_officer", "county_officer")
CLOSE = ("school_staff", "township_officer", "county_officer")
LEAVE = ("school_staff", "head_teacher")
CONFIG = ("county_officer", "prefecture_officer", "province_officer")
SCHOOL_READERS = ("school_staff", "head_teacher", "township_officer", "county_officer", "prefecture_officer",
                  "province_officer", "auditor")
CONFIG_READERS = (*SCHOOL_READERS, "village_cadre", "justice_officer", "system")
SCHOOL = "the school must lie in the caller's jurisdiction"
MACHINE = SCHOOL + "; an attendance system's token must name it"

MATRIX = RoleMatrix({
    "POST /v1/schools/{school_id}/days/{day}/checkins": Allow(*CHECKIN, note=MACHINE),
    "POST /v1/schools/{school_id}/days/{day}/close": Allow(*CLOSE, note=SCHOOL),
    "POST /v1/schools/{school_id}/days/{day}/corrections": Allow(*CLOSE, note=SCHOOL),
    "GET /v1/schools/{school_id}/days/{day}": Allow(*SCHOOL_READERS, note=SCHOOL + "; absences per student"),
    "GET /v1/schools/{school_id}/roster": Allow(*SCHOOL_READERS, note=SCHOOL + "; students by opaque id"),
    "POST /v1/schools/{school_id}/leaves": Allow(*LEAVE, note=SCHOOL),
    "POST /v1/schools/{school_id}/leaves/{leave_id}/approve": Allow("school_staff", note=SCHOOL),
    "POST /v1/schools/{school_id}/leaves/{leave_id}/reject": Allow("school_staff", note=SCHOOL),
    "GET /v1/schools/{school_id}/leaves": Allow(*SCHOOL_READERS, note=SCHOOL),
    "POST /v1/days/{day}/checkins": Allow(*CHECKIN, note="every school of the batch: " + MACHINE),
    "POST /v1/leaves/batch": Allow("attendance_system", "school_staff", note="every school of the batch: " + MACHINE),
    "POST /v1/counties/{county_code}/days/{day}/close": Allow(At("county_officer", 6), note="the county's own day"),
    "PUT /v1/counties/{county_code}/calendar": Allow(*CONFIG),
    "POST /v1/counties/{county_code}/calendar/import": Allow(*CONFIG),
    "GET /v1/counties/{county_code}/calendar": Allow(*CONFIG_READERS),
    "PUT /v1/counties/{county_code}/day-close": Allow(*CONFIG),
    "GET /v1/counties/{county_code}/day-close": Allow(*CONFIG_READERS),
    "PUT /v1/jurisdictions/{code}/rules": Allow(*CONFIG),
    "GET /v1/jurisdictions/{code}/rules": Allow(*CONFIG_READERS),
}, service="attendance")
