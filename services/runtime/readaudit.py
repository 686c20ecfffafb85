"""Read audit: every view of a child's personal data is recorded (who, role, jurisdiction, purpose, when) in an
append-only table of the service's own schema, in the same request, and auditors query it within their jurisdiction.

Rows hold ids only (student id, case id, jurisdiction codes), never names or ID numbers.
"""

# No `from __future__ import annotations`: the header's description names a closure value FastAPI must see.
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from services.runtime.access import Allow
from services.runtime.auth import Actor, CurrentActor
from services.runtime.db import Database
from services.runtime.web import correlation_id

PURPOSE_HEADER = "X-Access-Purpose"
PURPOSES: dict[str, str] = {
    "casework": "个案办理 (working on the child's case)",
    "verification": "核查 (verifying where the child is and why)",
    "enrolment": "学籍管理 (registration work)",
    "data_correction": "数据核对更正 (checking or correcting records)",
    "legal": "依法控辍 (legal procedure)",
    "supervision": "督导检查 (supervision by a higher level)",
    "reporting": "统计报表 (ledgers and reports)",
    "audit": "审计 (audit)",
}
Purpose = Literal[
    "casework", "verification", "enrolment", "data_correction", "legal", "supervision", "reporting", "audit"
]
QUERY_LIMIT_MAX = 1000

DDL = """
CREATE TABLE IF NOT EXISTS read_audit (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    actor_id text NOT NULL,
    actor_role text NOT NULL,
    actor_jurisdiction text NOT NULL,
    purpose text NOT NULL,
    view text NOT NULL,
    student_id text,
    case_id text,
    subject_jurisdiction text NOT NULL,
    correlation_id text
);
CREATE INDEX IF NOT EXISTS read_audit_student ON read_audit (student_id, at) WHERE student_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS read_audit_case ON read_audit (case_id, at) WHERE case_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS read_audit_scope ON read_audit (subject_jurisdiction text_pattern_ops, at);
CREATE OR REPLACE FUNCTION read_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'read_audit is append-only';
END $$;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'read_audit_append_only'
                   AND tgrelid = 'read_audit'::regclass) THEN
        CREATE TRIGGER read_audit_append_only BEFORE UPDATE OR DELETE ON read_audit
            FOR EACH ROW EXECUTE FUNCTION read_audit_append_only();
    END IF;
END $$;
"""
COLUMNS = ("at", "actor_id", "actor_role", "actor_jurisdiction", "purpose", "view", "student_id", "case_id",
           "subject_jurisdiction", "correlation_id")


@dataclass(frozen=True)
class Subject:
    """Whose data was shown: the child's opaque student id and/or a case id, and the subject's own jurisdiction."""

    jurisdiction: str
    student_id: str | None = None
    case_id: str | None = None


class ReadAudit:
    """The service's read-audit table: append (one row per subject shown) and query by jurisdiction."""

    def __init__(self, db: Database, clock: Any) -> None:
        self.db = db
        self.clock = clock
        db.ensure_tables(DDL)

    def record(self, reader: "Reader", view: str, subjects: Iterable[Subject]) -> int:
        """Appends one row per subject (COPY for an export of many); returns how many were written."""
        at = self.clock.now()
        rows = [(at, reader.actor.user_id, reader.actor.role, reader.actor.jurisdiction, reader.purpose, view,
                 s.student_id, s.case_id, s.jurisdiction, reader.correlation_id) for s in subjects]
        if not rows:
            return 0
        with self.db.transaction() as conn, conn.cursor() as cur:
            with cur.copy(f"COPY read_audit ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return len(rows)

    def query(self, prefix: str, *, student_id: str | None = None, case_id: str | None = None,
              actor_id: str | None = None, since: datetime | None = None, until: datetime | None = None,
              limit: int = 100) -> list[dict[str, Any]]:
        """Reads of subjects inside ``prefix``, newest first."""
        where, args = ["subject_jurisdiction LIKE %s"], [_like(prefix)]
        for column, value in (("student_id", student_id), ("case_id", case_id), ("actor_id", actor_id)):
            if value is not None:
                where.append(f"{column} = %s")
                args.append(value)
        if since is not None:
            where.append("at >= %s")
            args.append(since)
        if until is not None:
            where.append("at < %s")
            args.append(until)
        with self.db.transaction() as conn:
            return list(conn.execute(
                f"SELECT id, {', '.join(COLUMNS)} FROM read_audit "  # noqa: S608 - column names are fixed
                f"WHERE {' AND '.join(where)} "
                "ORDER BY at DESC, id DESC LIMIT %s", (*args, limit)).fetchall())


def _like(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@dataclass(frozen=True)
class Reader:
    """The caller of a read, with the purpose they declared (or the route's default); ``viewed`` records it."""

    actor: Actor
    purpose: str
    correlation_id: str
    audit: ReadAudit

    def viewed(self, view: str, subjects: Iterable[Subject]) -> int:
        return self.audit.record(self, view, subjects)


def reading(default: Purpose) -> Any:
    """FastAPI dependency for a route showing a child's personal data: the Reader, purpose defaulting to ``default``."""

    def dependency(request: Request, actor: CurrentActor, purpose: Annotated[Purpose | None, Header(
            alias=PURPOSE_HEADER, description="访问目的 (purpose of access): " + "; ".join(
                f"`{k}` {v}" for k, v in PURPOSES.items()) + f"; default `{default}`")] = None) -> Reader:
        audit: ReadAudit | None = getattr(request.app.state, "read_audit", None)
        if audit is None:  # fail closed: a view that cannot be recorded is not shown
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail={
                "code": "read_audit_unavailable", "message": "访问记录不可用 (read audit unavailable)"})
        return Reader(actor, purpose or default, correlation_id(request), audit)

    return Depends(dependency)


class ReadPublic(BaseModel):
    id: int
    at: datetime = Field(description="When the data was shown (the service clock)")
    actor_id: str
    actor_role: str
    actor_jurisdiction: str
    purpose: str
    purpose_label: str
    view: str = Field(description="What was shown, e.g. `student_record`, `child_history`, `case_timeline`")
    student_id: str | None
    case_id: str | None
    subject_jurisdiction: str = Field(description="The subject's own jurisdiction (which bounds who may see this row)")
    correlation_id: str | None


READS_ROUTE = "GET /v1/audit/reads"


def reads_row() -> Allow:
    """The role matrix row of `reads_router`'s route, which every service that records reads includes."""
    return Allow("auditor", note="access records inside the auditor's own jurisdiction")


def reads_router() -> APIRouter:
    """`GET /v1/audit/reads`: auditors see who viewed children's data inside their own jurisdiction."""
    router = APIRouter(prefix="/v1/audit", tags=["audit: reads"])

    @router.get("/reads", response_model=list[ReadPublic], summary="访问记录：谁在何时为何查看了儿童个人信息")
    def reads(request: Request, actor: CurrentActor,
              student_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
              case_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
              actor_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
              since: datetime | None = None, until: datetime | None = None,
              limit: Annotated[int, Query(ge=1, le=QUERY_LIMIT_MAX)] = 100) -> list[ReadPublic]:
        audit: ReadAudit = request.app.state.read_audit
        rows = audit.query(actor.jurisdiction, student_id=student_id, case_id=case_id, actor_id=actor_id,
                           since=since, until=until, limit=limit)
        return [ReadPublic(**r, purpose_label=PURPOSES.get(r["purpose"], r["purpose"])) for r in rows]

    return router
