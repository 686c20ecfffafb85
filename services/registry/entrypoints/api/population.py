"""Population routes: a source reports a child; life events, deferrals and merges of the records."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import Field

from services.registry.application.registry import Registry
from services.registry.domain.population import FLAGS
from services.registry.domain.registration import normalise_id_number, student_id_for
from services.registry.entrypoints.api.bodies import _Body
from services.registry.entrypoints.api.scopes import scoped_child, scoped_home
from services.runtime.auth import CurrentActor, require_scope
from services.runtime.clock import Clock
from services.runtime.validation import SafeId, SafeLine, SafeText
from services.runtime.web import CommandMeta


class ChildReport(_Body):
    source: Literal["public_security", "civil_affairs", "disability_federation", "poverty_alleviation", "education"]
    id_number: SafeId = Field(min_length=18, max_length=18)
    source_record_id: SafeId | None = Field(None, max_length=64)
    name: SafeLine | None = Field(None, max_length=50)
    birth_date: date | None = None
    gender: Literal["男", "女"] | None = None
    township_code: SafeId | None = Field(None, pattern=r"^[0-9]{9}$")
    village_code: SafeId | None = Field(None, pattern=r"^[0-9]{12}$")
    guardian_name: SafeLine | None = Field(None, max_length=50)
    guardian_phone: SafeId | None = Field(None, pattern=r"^\+?[0-9]{7,15}$")
    flags: dict[str, dict[str, Any]] = Field(default_factory=dict, description=f"special groups: {', '.join(FLAGS)}")


class LifeEvent(_Body):
    id_number: SafeId = Field(min_length=18, max_length=18)
    status: Literal["deceased", "moved_away", "emigrated"]
    on: date
    reference: SafeId | None = Field(None, max_length=100)
    to_region_code: SafeId | None = None


class LifeEventCorrection(_Body):
    id_number: SafeId = Field(min_length=18, max_length=18)
    reason: SafeText = Field(min_length=1, max_length=200)


class Deferral(_Body):
    id_number: SafeId = Field(min_length=18, max_length=18)
    until: date
    reason: SafeText = Field(min_length=1, max_length=200)
    approval_ref: SafeId = Field(min_length=1, max_length=100)
    approved_by: SafeLine = Field(min_length=1, max_length=100)


class Merge(_Body):
    survivor_id_number: SafeId = Field(min_length=18, max_length=18)
    other_id_number: SafeId = Field(min_length=18, max_length=18)
    reason: SafeText = Field(min_length=1, max_length=200)


def population_router(registry: Registry, clock: Clock) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["registry"])

    @router.post("/population/records", summary="A source reports one child (linked by ID number)")
    def report_child(body: ChildReport, actor: CurrentActor, meta: CommandMeta) -> dict[str, Any]:
        fields = body.model_dump()
        attributes = {k: fields.pop(k) for k in list(fields) if k not in ("source", "id_number", "source_record_id",
                                                                         "flags")}
        require_scope(actor, attributes.get("township_code") or normalise_id_number(body.id_number)[:6], "儿童户籍地")
        if (known := registry.population.find_child_record(normalise_id_number(body.id_number))) is not None:
            require_scope(actor, known.township_code, "儿童现居住地")  # the child's own residence, not the request's
        scoped_home(registry, actor, str(student_id_for(normalise_id_number(body.id_number))), absent_ok=True)
        child, outcome = registry.population.report_child(as_of=clock.today(), attributes=attributes, meta=meta,
                                                          **fields)
        return {"student_id": str(student_id_for(child.id_number)), "outcome": outcome}

    @router.post("/population/life-events", summary="公安通报: deceased, moved away or emigrated")
    def life_event(body: LifeEvent, actor: CurrentActor, meta: CommandMeta) -> dict[str, Any]:
        scoped_child(registry, actor, body.id_number)
        changed = registry.population.report_life_event(source="public_security", meta=meta, **body.model_dump())
        return {"changed": changed}

    @router.post("/population/life-events/corrections", status_code=204, summary="A wrong death/move report withdrawn")
    def correct(body: LifeEventCorrection, actor: CurrentActor, meta: CommandMeta) -> None:
        scoped_child(registry, actor, body.id_number)
        registry.population.correct_life_event(source="public_security", meta=meta, **body.model_dump())

    @router.post("/population/deferrals", status_code=204, summary="延缓入学 with the county's approval")
    def defer(body: Deferral, actor: CurrentActor, meta: CommandMeta) -> None:
        scoped_child(registry, actor, body.id_number)
        registry.population.defer_enrolment(today=clock.today(), meta=meta, **body.model_dump())

    @router.post("/population/merges", status_code=204, summary="Merge two records of one child")
    def merge(body: Merge, actor: CurrentActor, meta: CommandMeta) -> None:
        scoped_child(registry, actor, body.survivor_id_number)
        scoped_child(registry, actor, body.other_id_number)
        registry.population.merge_children(meta=meta, **body.model_dump())

    @router.post("/population/merges/undo", status_code=204, summary="Undo a wrong merge")
    def undo_merge(body: Merge, actor: CurrentActor, meta: CommandMeta) -> None:
        scoped_child(registry, actor, body.survivor_id_number)
        scoped_child(registry, actor, body.other_id_number)
        registry.population.undo_merge(meta=meta, **body.model_dump())

    return router
