"""Who acts: the roles and the actor a bearer token names, apart from token checking so the role matrix
(``access``) and the token dependency (``auth``) can both use them without an import circle."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.runtime.tracing import current_traceparent

Role = Literal[
    "admin",  # platform operator (province)
    "province_officer",
    "prefecture_officer",
    "county_officer",  # county education bureau (教育局)
    "township_officer",  # township government (乡镇)
    "village_cadre",  # village / community cadre (村干部)
    "school_staff",  # school leader or clerk
    "head_teacher",  # 班主任
    "justice_officer",  # 司法所
    "auditor",
    "attendance_system",  # a machine client pushing check-ins
    "system",  # a service acting on another service's event
]
ROLES: tuple[str, ...] = Role.__args__  # type: ignore[attr-defined]


class Actor(BaseModel):
    """Who is acting and for which jurisdiction (行政区划 code prefix)."""

    user_id: str = Field(min_length=1, max_length=128)
    role: Role
    jurisdiction: str = Field(pattern=r"^[0-9]{2}([0-9]{2}([0-9]{2}([0-9]{3}([0-9]{3})?)?)?)?$")
    name: str | None = None
    schools: list[str] | None = Field(None, description="For attendance systems: the schools this client covers")

    def covers(self, code: str | None) -> bool:
        """True when a jurisdiction code lies inside this actor's jurisdiction."""
        return code is not None and code.startswith(self.jurisdiction)

    def meta(self, correlation_id: str, at: datetime, causation_id: str | None = None) -> dict[str, str | None]:
        """The metadata recorded on every event this actor causes."""
        return {
            "actor_id": self.user_id,
            "actor_role": self.role,
            "jurisdiction": self.jurisdiction,
            "correlation_id": correlation_id,
            "causation_id": causation_id,
            "at": at.isoformat(),
            **current_traceparent(),  # the command's trace, for the relay to carry on (empty when not tracing)
        }


def system_actor(service: str, jurisdiction: str) -> Actor:
    """The actor recorded when a service reacts to another service's event."""
    return Actor(user_id=f"system:{service}", role="system", jurisdiction=jurisdiction)
