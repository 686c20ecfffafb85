"""Casework's domain: pure aggregates and rules, no I/O (cases, a child's case file, responsibility maps)."""

from eventsourcing.utils import register_topic

from services.casework.domain.case import Case
from services.casework.domain.chain import ChainProblem, store_digest, verify_chain
from services.casework.domain.child import SOURCES, ChildCases, Trigger, business_time
from services.casework.domain.codes import STAGES
from services.casework.domain.errors import (
    CaseworkError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
)
from services.casework.domain.ids import (
    NAMESPACE,
    case_id_for,
    child_cases_id_for,
    placement_id_for,
    responsibility_map_id_for,
)
from services.casework.domain.owners import ResponsibilityMap
from services.casework.domain.placement import Placement, StudentPlacement

# Events stored before the domain became a package keep resolving (topics are part of stored history).
register_topic("services.casework.domain:Case", Case)
register_topic("services.casework.domain:ChildCases", ChildCases)

__all__ = [
    "NAMESPACE", "SOURCES", "STAGES", "Case", "CaseworkError", "ChainProblem", "ChildCases", "Conflict",
    "Forbidden", "InvalidInput", "NotFound", "Placement", "ResponsibilityMap", "StudentPlacement", "Trigger",
    "business_time",
    "case_id_for", "child_cases_id_for", "placement_id_for", "responsibility_map_id_for", "store_digest",
    "verify_chain",
]
