"""What a reader sees: the caller's scope and the as-of date parameter (who may read: roles.py)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from fastapi import HTTPException, status

from services.reporting.inbox import start_of
from services.reporting.queries import Scope
from services.runtime.auth import Actor



def scope_of(actor: Actor) -> Scope:
    """The caller's visibility: jurisdiction prefix, and for school staff bound to schools, those schools."""
    schools = tuple(actor.schools) if actor.role == "school_staff" and actor.schools else None
    return Scope(actor.jurisdiction, schools)


def require_overlap(actor: Actor, code: str, what: str) -> None:
    """A filter may be wider or narrower than the caller's jurisdiction, never beside it (403)."""
    if not (code.startswith(actor.jurisdiction) or actor.jurisdiction.startswith(code)):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail={"code": "out_of_jurisdiction", "message": f"{what} {code} 不在您的辖区 {actor.jurisdiction} 内"},
        )


def cut(as_of: date | None, today: date) -> datetime | None:
    """'As of a date' means at the end of that day (China time); today or later is live."""
    if as_of is None or as_of >= today:
        return None
    return start_of(as_of + timedelta(days=1))
