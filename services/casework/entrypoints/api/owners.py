"""Casework API: responsibility maps (双线四包责任表: JSON or CSV import, edits) and owners' work queues."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import ValidationError

from services.casework.application import CaseworkApp
from services.casework.domain import InvalidInput
from services.casework.domain.owners import ENTRY_FIELDS
from services.casework.entrypoints.api.schemas import (
    QueueItemPublic,
    ResponsibilityEntry,
    ResponsibilityImport,
    ResponsibilityMapPublic,
)
from services.runtime.auth import CurrentActor, require_scope
from services.runtime.csvinput import check_text, decode_text, guarded, header
from services.runtime.validation import BadInput
from services.runtime.web import CommandMeta

Township = Annotated[str, Path(pattern=r"^[0-9]{9}$", description="9-digit township code")]


def map_public(casework: CaseworkApp, township_code: str) -> ResponsibilityMapPublic:
    rmap = casework.owners.responsibility_map(township_code)
    if rmap is None:
        return ResponsibilityMapPublic(township_code=township_code, version=0, entries=[])
    entries = [{"key": k, **v} for k, v in sorted(rmap.entries.items())]
    return ResponsibilityMapPublic(township_code=township_code, version=rmap.version, entries=entries)


def parse_csv(text: str) -> list[dict[str, str]]:
    """CSV with a header row naming some of: slot, village_code, group, school_id, student_id, user_id, name."""
    reader = csv.DictReader(io.StringIO(check_text(text.lstrip("\ufeff")), newline=""))
    fields = header(reader)
    unknown = set(fields) - set(ENTRY_FIELDS)
    if not fields or "slot" not in fields or "user_id" not in fields or unknown:
        raise InvalidInput(f"CSV 表头须包含 slot、user_id，可选 {'、'.join(ENTRY_FIELDS)}", rule="map.csv_header")
    return [dict(row) for row in guarded(reader)]


def _entry(line: int, row: dict[str, str]) -> dict[str, object]:
    """One CSV row as a responsibility entry, or BadInput (422) naming its line and field."""
    if None in row:
        raise BadInput(["body", f"line {line}"], f"第 {line} 行的单元格多于表头列数 (more cells than columns)")
    try:
        return ResponsibilityEntry(**{k: v for k, v in row.items() if v not in (None, "")}).model_dump()
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        column = ".".join(str(p) for p in first["loc"])
        raise BadInput(["body", f"line {line}", column], f"第 {line} 行 {column}：{first['msg']}") from None


def owners_router(casework: CaseworkApp) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["casework: owners"])

    def editable(actor: CurrentActor, township_code: str) -> None:
        require_scope(actor, township_code, "乡镇责任表")

    @router.get("/responsibility-maps/{township_code}", response_model=ResponsibilityMapPublic)
    def get_map(township_code: Township, actor: CurrentActor) -> ResponsibilityMapPublic:
        require_scope(actor, township_code, "乡镇责任表")
        return map_public(casework, township_code)

    @router.put("/responsibility-maps/{township_code}", response_model=ResponsibilityMapPublic)
    def import_map(township_code: Township, body: ResponsibilityImport, actor: CurrentActor,
                   meta: CommandMeta) -> ResponsibilityMapPublic:
        editable(actor, township_code)
        casework.owners.put_responsibilities(township_code, [e.model_dump() for e in body.entries], replace=body.replace,
                                      source="api", meta=meta)
        return map_public(casework, township_code)

    @router.post("/responsibility-maps/{township_code}/csv", response_model=ResponsibilityMapPublic,
                 openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}})
    async def import_csv(township_code: Township, request: Request, actor: CurrentActor, meta: CommandMeta,
                         replace: bool = False) -> ResponsibilityMapPublic:
        editable(actor, township_code)
        rows = parse_csv(decode_text(await request.body(), what="责任表 CSV"))
        entries = [_entry(line, r) for line, r in enumerate(rows, start=2)]
        casework.owners.put_responsibilities(township_code, entries, replace=replace, source="csv", meta=meta)
        return map_public(casework, township_code)

    @router.post("/responsibility-maps/{township_code}/entries", response_model=ResponsibilityMapPublic)
    def put_entry(township_code: Township, body: ResponsibilityEntry, actor: CurrentActor,
                  meta: CommandMeta) -> ResponsibilityMapPublic:
        editable(actor, township_code)
        casework.owners.put_responsibilities(township_code, [body.model_dump()], replace=False, source="api", meta=meta)
        return map_public(casework, township_code)

    @router.delete("/responsibility-maps/{township_code}/entries", response_model=ResponsibilityMapPublic)
    def remove_entry(township_code: Township, actor: CurrentActor, meta: CommandMeta,
                     key: str = Query(description="The entry's key as the map lists it")) -> ResponsibilityMapPublic:
        editable(actor, township_code)
        casework.owners.remove_responsibility(township_code, key, meta)
        return map_public(casework, township_code)

    @router.get("/queue", response_model=list[QueueItemPublic], summary="我的待办（到期事项在前）")
    def my_queue(actor: CurrentActor, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[QueueItemPublic]:
        return [QueueItemPublic(**asdict(i)) for i in casework.queries.queue(actor.user_id, actor.jurisdiction, limit)]

    @router.get("/owners/{user_id}/queue", response_model=list[QueueItemPublic], summary="某责任人的待办")
    def owner_queue(user_id: str, actor: CurrentActor,
                    limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[QueueItemPublic]:
        return [QueueItemPublic(**asdict(i)) for i in casework.queries.queue(user_id, actor.jurisdiction, limit)]

    return router
