"""Who may write for a school: inside the caller's jurisdiction, and for a machine client, named by its token."""

from __future__ import annotations

from fastapi import HTTPException, status

from services.attendance.application.service import Attendance
from services.attendance.domain.values import SchoolRow
from services.runtime.auth import Actor, require_scope


def require_school_access(actor: Actor, school: SchoolRow) -> None:
    """Inside the caller's jurisdiction, and for a machine client, one of the schools its token names."""
    require_scope(actor, school.township_code, "学校")
    if actor.role == "attendance_system" and school.school_id not in (actor.schools or []):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail={"code": "school_not_covered", "message": f"该考勤系统未获准为学校 {school.school_id} 上报"},
        )


def scoped_schools(attendance: Attendance, actor: Actor, school_ids: list[str]) -> dict[str, SchoolRow]:
    """A batch's schools once the caller may write to each: a machine client's token names them all, and the caller's
    jurisdiction covers each known one's township (unknown ones are left to the use case to name)."""
    ids = sorted(set(school_ids))
    if actor.role == "attendance_system":
        covered = set(actor.schools or [])
        for school_id in ids:
            if school_id not in covered:
                raise HTTPException(
                    status.HTTP_403_FORBIDDEN,
                    detail={"code": "school_not_covered", "message": f"该考勤系统未获准为学校 {school_id} 上报"},
                )
    schools = attendance.store.schools_by_id(ids)
    for school in schools.values():  # the school's own county, as registry said, whatever the token claims
        require_scope(actor, school.township_code, "学校")
    return schools
