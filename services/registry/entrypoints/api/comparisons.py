"""Comparison routes: run the comparisons now; read and set a jurisdiction's thresholds."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from services.registry.application.registry import Registry
from services.registry.domain.comparisons import KINDS, Rules
from services.registry.domain.configuration import rules_body
from services.registry.entrypoints.api.bodies import CODE, _Body
from services.runtime.auth import CurrentActor, require_scope
from services.runtime.clock import Clock
from services.runtime.validation import SafeId
from services.runtime.web import CommandMeta


class ComparisonRun(_Body):
    kinds: list[Literal["out_of_school", "transfer_lost", "transition_missed"]] = Field(default=list(KINDS))
    as_of: date | None = None
    prefix: SafeId | None = Field(None, pattern=r"^[0-9]{2,12}$")


class ComparisonRulesSet(_Body):
    """A jurisdiction's comparison thresholds; unset fields keep the deployment defaults."""

    transfer_lost_days: int | None = Field(None, ge=1, le=365, description="TransferLost after N days")
    school_year_start: SafeId | None = Field(None, pattern=r"^[0-9]{2}-[0-9]{2}$", description="MM-DD (age cut-off: day before)")
    transition_deadline: SafeId | None = Field(None, pattern=r"^[0-9]{2}-[0-9]{2}$",
                                            description="小升初 deadline MM-DD (default: the school-year start)")


class ComparisonRulesPublic(BaseModel):
    jurisdiction: str = Field(description="The prefix the rules were set for ('' : the deployment default)")
    version: int
    transfer_lost_days: int
    school_year_start: str
    transition_deadline: str | None


def _rules_public(rules: Rules) -> ComparisonRulesPublic:
    return ComparisonRulesPublic(jurisdiction=rules.jurisdiction, version=rules.version, **rules_body(rules))


def comparisons_router(registry: Registry, clock: Clock, rules: Rules) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["registry"])

    @router.post("/comparisons/run", summary="Run the census / transfer / 小升初 comparisons now")
    def run(body: ComparisonRun, actor: CurrentActor, meta: CommandMeta) -> dict[str, Any]:
        prefix = body.prefix or actor.jurisdiction
        require_scope(actor, prefix, "比对范围")
        as_of = body.as_of or clock.today()
        return {"as_of": as_of.isoformat(), "prefix": prefix,
                "results": registry.comparisons.run_comparisons(prefix=prefix, as_of=as_of, rules=rules, meta=meta,
                                                    kinds=body.kinds)}

    @router.put("/jurisdictions/{code}/comparison-rules", response_model=ComparisonRulesPublic,
                summary="Set a jurisdiction's comparison thresholds (a new version; most specific prefix wins)")
    def set_rules(code: Annotated[str, Path(pattern=CODE)], body: ComparisonRulesSet, actor: CurrentActor,
                  meta: CommandMeta) -> ComparisonRulesPublic:
        require_scope(actor, code, "辖区")
        return _rules_public(registry.comparisons.set_comparison_rules(
            jurisdiction=code, body=body.model_dump(exclude_none=True), default=rules, meta=meta))

    @router.get("/jurisdictions/{code}/comparison-rules", response_model=ComparisonRulesPublic,
                summary="The comparison thresholds that apply to a code (its own, an enclosing one, or the default)")
    def get_rules(code: Annotated[str, Path(pattern=CODE + "|^[0-9]{12}$")], actor: CurrentActor
                  ) -> ComparisonRulesPublic:
        require_scope(actor, code, "辖区")
        return _rules_public(registry.comparisons.comparison_rules(code, rules))

    return router
