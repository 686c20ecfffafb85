"""Query routes: find children, a child's history and provenance (each view recorded), counts by grade."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query

from services.registry.application.registry import Registry
from services.registry.domain.population import SOURCES
from services.registry.domain.registration import mask_id_number, mask_name, normalise_id_number, student_id_for
from services.registry.entrypoints.api.scopes import scoped_home
from services.runtime.auth import CurrentActor, require_scope
from services.runtime.readaudit import Reader, Subject, reading


def queries_router(registry: Registry) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["registry"])

    @router.get("/children", summary="Find children by ID number or name (masked results, your jurisdiction)")
    def find(actor: CurrentActor, reader: Annotated[Reader, reading("verification")], id_number: str | None = None,
             name: str | None = None) -> list[dict[str, Any]]:
        if not id_number and not name:
            raise HTTPException(422, detail={"code": "query_missing", "message": "请提供 id_number 或 name"})
        found = registry.queries.find_children(actor.jurisdiction, id_number=id_number, name=name)
        reader.viewed("child_search", [Subject(code, student_id=f["student_id"]) for f in found for code in {
            c for c in (f["residence_township_code"], (f["registration"] or {}).get("township_code")) if c}])
        return found

    @router.get("/children/{student_id}/history", summary="Every event about a child, with source and actor")
    def history(student_id: UUID, actor: CurrentActor,
                reader: Annotated[Reader, reading("verification")]) -> list[dict[str, Any]]:
        entries = registry.queries.child_history(actor.jurisdiction, str(student_id))
        reader.viewed("child_history", [Subject(code, student_id=str(student_id))
                                        for code in registry.queries.child_jurisdictions(str(student_id))])
        return entries

    @router.get("/children/by-id-number/{id_number}/provenance", summary="Who said what about a child")
    def provenance(id_number: str, actor: CurrentActor,
                   reader: Annotated[Reader, reading("data_correction")]) -> dict[str, Any]:
        child = registry.population.child_record(normalise_id_number(id_number))
        scoped_home(registry, actor, str(student_id_for(child.id_number)))
        shown = Subject(child.township_code, student_id=str(student_id_for(child.id_number)))
        reader.viewed("child_provenance", [shown])

        def safe(attribute: str, value: Any) -> Any:
            return mask_name(value) if attribute in ("name", "guardian_name") else (
                "***" if attribute == "guardian_phone" else value)

        return {
            "student_id": str(student_id_for(child.id_number)),
            "id_number_masked": mask_id_number(child.id_number),
            "status": child.status,
            "resolved": {k: safe(k, v) for k, v in child.resolved().items()},
            "provenance": {k: [{**v, "value": safe(k, v["value"])} for v in vs] for k, vs in child.provenance().items()},
            "conflicts": {k: [{**v, "value": safe(k, v["value"])} for v in vs] for k, vs in child.conflicts().items()},
            "special_groups": child.flags(),
            "deferral": child.deferral,
            "sources": list(SOURCES),
        }

    @router.get("/counts", summary="Children in school by grade, per school or township")
    def counts(actor: CurrentActor, by: Literal["school", "township"] = "school",
               prefix: str | None = Query(None, pattern=r"^[0-9]{2,12}$")) -> list[dict[str, Any]]:
        prefix = prefix or actor.jurisdiction
        require_scope(actor, prefix, "统计范围")
        return registry.queries.grade_counts(prefix, by="school" if by == "school" else "township_code")

    return router
