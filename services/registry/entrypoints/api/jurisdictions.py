"""Division routes: the hierarchy and the schools as of a date; load, change and establish divisions."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import Field

from services.registry.application.registry import Registry
from services.registry.entrypoints.api.bodies import CODE, _Body
from services.runtime.auth import CurrentActor, require_scope
from services.runtime.clock import Clock
from services.runtime.validation import SafeId, SafeLine
from services.runtime.web import CommandMeta


class DivisionCreate(_Body):
    code: SafeId = Field(pattern=r"^[0-9]{9}$|^[0-9]{12}$", description="9-digit township or 12-digit village code")
    name: SafeLine = Field(min_length=1, max_length=100)
    level: Literal["township", "village"]
    parent_code: SafeId = Field(pattern=r"^[0-9]{6}$|^[0-9]{9}$")
    effective: date
    source: SafeId = Field("county_notice", min_length=1, max_length=200, description="e.g. the approving notice")


class DivisionChange(_Body):
    change: Literal["rename", "merge", "abolish"]
    effective: date
    name: SafeLine | None = None
    target_code: SafeId | None = None


def jurisdictions_router(registry: Registry, clock: Clock) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["registry"])

    @router.get("/jurisdictions", summary="The division hierarchy as of a date")
    def jurisdictions(actor: CurrentActor, as_of: date | None = None,
                      prefix: str | None = Query(None, pattern=r"^[0-9]{2,12}$")) -> list[dict[str, Any]]:
        prefix = prefix or actor.jurisdiction
        require_scope(actor, prefix, "区划")
        return registry.divisions.hierarchy(prefix, as_of or clock.today())

    @router.post("/jurisdictions/load", summary="Load the packaged GB/T 2260 division codes under your jurisdiction")
    def load(actor: CurrentActor, meta: CommandMeta) -> dict[str, Any]:
        return registry.divisions.load_divisions(prefix=actor.jurisdiction, meta=meta)

    @router.post("/jurisdictions/{code}/changes", status_code=204,
                 summary="Rename, merge (the township's schools move with it) or abolish, from a date")
    def change(code: str, body: DivisionChange, actor: CurrentActor, meta: CommandMeta) -> None:
        require_scope(actor, code, "区划")
        if body.target_code:
            require_scope(actor, body.target_code, "合并目标区划")
        registry.divisions.change_division(code=code, meta=meta, **body.model_dump())

    @router.post("/jurisdictions", summary="A new township or village (12-digit code) from a date")
    def establish(body: DivisionCreate, actor: CurrentActor, meta: CommandMeta, response: Response) -> dict[str, Any]:
        require_scope(actor, body.code, "区划")
        created = registry.divisions.establish_division(meta=meta, **body.model_dump())
        response.status_code = 201 if created else 200
        return {"code": body.code, "created": created}

    @router.get("/schools", summary="Schools as of a date (opened by then, in the township they belonged to then)")
    def schools(actor: CurrentActor, as_of: date | None = None,
                jurisdiction: str | None = Query(None, pattern=CODE + "|^[0-9]{12}$"),
                include_closed: bool = Query(False, description="Also list schools closed (撤并) by then")
                ) -> list[dict[str, Any]]:
        prefix = jurisdiction or actor.jurisdiction
        require_scope(actor, prefix, "学校范围")
        return registry.divisions.schools_as_of(prefix, as_of or clock.today(), include_closed=include_closed)

    return router
