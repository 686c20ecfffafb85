"""Scorecard routes: a unit's card with a ranking, the cases behind a figure, and the versioned weights and
targets (read inside one's jurisdiction; set by province and prefecture officers)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from services.reporting.application.scorecards import Scorecards
from services.reporting.entrypoints.api.ledgers import CODE, TOWNSHIP
from services.runtime.auth import CurrentActor

PERIOD = r"^(19|20)[0-9]{2}-((0[1-9]|1[0-2])|spring|autumn)$"
FIGURE = r"^[a-z_]{1,40}$"
LEVEL = r"^(prefecture|county|township|school)$"
SCHOOL = r"^[A-Za-z0-9._:-]{1,64}$"

Period = Annotated[str, Query(pattern=PERIOD, description="YYYY-MM, or YYYY-spring / YYYY-autumn (a term)")]
AsOf = Annotated[date | None, Query(description="as known at the end of this day")]


class ConfigBody(BaseModel):
    """Weights (figure → 0–100) and targets from a day on; unnamed ones keep what applies from above."""

    model_config = ConfigDict(extra="forbid")
    effective_from: date
    weights: dict[str, float] = Field(default_factory=dict, max_length=20)
    targets: dict[str, float] = Field(default_factory=dict, max_length=20)


def router(cards: Scorecards) -> APIRouter:
    """The scorecard routes over their use cases (domain errors answer with their own status)."""
    api = APIRouter(prefix="/v1/scorecards", tags=["scorecards"])

    @api.get("/{code}", summary="A unit's scorecard and the ranking of a level below it")
    def card(code: Annotated[str, Path(pattern=CODE)], actor: CurrentActor, period: Period, as_of: AsOf = None,
             level: Annotated[str | None, Query(pattern=LEVEL)] = None) -> dict[str, Any]:
        return cards.card(actor, code, None, period, level, as_of)

    @api.get("/{township_code}/schools/{school_id}", summary="A school's scorecard")
    def school_card(township_code: Annotated[str, Path(pattern=TOWNSHIP)],
                    school_id: Annotated[str, Path(pattern=SCHOOL)], actor: CurrentActor, period: Period,
                    as_of: AsOf = None) -> dict[str, Any]:
        return cards.card(actor, township_code, school_id, period, None, as_of)

    @api.get("/{code}/cases", summary="The cases (or comparison findings) behind one figure of a unit")
    def behind(code: Annotated[str, Path(pattern=CODE)], actor: CurrentActor, period: Period,
               figure: Annotated[str, Query(pattern=FIGURE)], as_of: AsOf = None,
               school_id: Annotated[str | None, Query(pattern=SCHOOL)] = None) -> dict[str, Any]:
        return cards.cases(actor, code, school_id, period, figure, as_of)

    @api.get("/config/{code}", summary="Weights and targets in effect for a unit on a day, and their versions")
    def get_config(code: Annotated[str, Path(pattern=CODE)], actor: CurrentActor,
                   on: Annotated[date | None, Query()] = None) -> dict[str, Any]:
        return cards.get_config(actor, code, on)

    @api.put("/config/{code}", summary="Sets weights and targets for a jurisdiction from a day on (a new version)")
    def put_config(code: Annotated[str, Path(pattern=CODE)], body: ConfigBody, actor: CurrentActor,
                   response: Response) -> dict[str, Any]:
        row, created = cards.set_config(actor, code, body.effective_from, body.weights, body.targets)
        response.status_code = 201 if created else 200
        return {**row, "created": created}

    return api
