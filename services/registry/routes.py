"""Registry HTTP routes beyond the walking skeleton: lifecycle, population, imports, comparisons, queries.

Every route is scoped to the caller's jurisdiction; names and ID numbers leave only in masked form.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from services.registry.comparisons import KINDS, Rules
from services.registry.domain import mask_id_number, mask_name, normalise_id_number, student_id_for
from services.registry.population import FLAGS, SOURCES
from services.runtime.auth import CurrentActor, require_scope
from services.runtime.readaudit import Reader, Subject, reading
from services.runtime.validation import SafeId, SafeLine, SafeText
from services.runtime.web import CommandMeta


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TransferOut(_Body):
    on: date
    reason: SafeText = Field(min_length=1, max_length=200)
    to_school_id: SafeId | None = None
    to_region_code: SafeId | None = None


class TransferIn(_Body):
    on: date
    school_id: UUID
    grade: int = Field(ge=1, le=9)
    class_name: SafeLine = Field(min_length=1, max_length=50)


class Suspend(_Body):
    on: date
    reason: SafeText = Field(min_length=1, max_length=200)
    until: date | None = None
    approval_ref: SafeId = Field(min_length=1, max_length=100, description="审批文号")


class Resume(_Body):
    on: date
    grade: int | None = Field(None, ge=1, le=9)
    class_name: SafeLine | None = None


class Graduate(_Body):
    on: date
    level: Literal["primary", "junior"]


class Admit(_Body):
    on: date
    school_id: UUID
    class_name: SafeLine = Field(min_length=1, max_length=50)


class Place(_Body):
    on: date
    placement: Literal["regular_class", "special_school", "home_delivery"]
    school_id: UUID
    disability_degree: Literal["1", "2", "3", "4"] | None = None


class SchoolClose(_Body):
    on: date
    reason: SafeText = Field(min_length=1, max_length=200)
    merged_into: SafeId | None = None


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


class ComparisonRun(_Body):
    kinds: list[Literal["out_of_school", "transfer_lost", "transition_missed"]] = Field(default=list(KINDS))
    as_of: date | None = None
    prefix: SafeId | None = Field(None, pattern=r"^[0-9]{2,12}$")


class DivisionCreate(_Body):
    code: SafeId = Field(pattern=r"^[0-9]{9}$|^[0-9]{12}$", description="9-digit township or 12-digit village code")
    name: SafeLine = Field(min_length=1, max_length=100)
    level: Literal["township", "village"]
    parent_code: SafeId = Field(pattern=r"^[0-9]{6}$|^[0-9]{9}$")
    effective: date
    source: SafeId = Field("county_notice", min_length=1, max_length=200, description="e.g. the approving notice")


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


class DivisionChange(_Body):
    change: Literal["rename", "merge", "abolish"]
    effective: date
    name: SafeLine | None = None
    target_code: SafeId | None = None


_IMPORT_BODY = {"requestBody": {"content": {
    "text/csv": {"schema": {"type": "string"}},
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": {"type": "string",
                                                                                   "format": "binary"}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "the CSV or XLSX file"}}}},
}}}
CODE = r"^[0-9]{2}([0-9]{2}([0-9]{2}([0-9]{3})?)?)?$"


def _rules_public(rules: Rules) -> ComparisonRulesPublic:
    from services.registry.configuration import rules_body

    return ComparisonRulesPublic(jurisdiction=rules.jurisdiction, version=rules.version, **rules_body(rules))


async def _upload(request: Request, filename: str | None) -> tuple[bytes, str]:
    """The file of an import: a multipart upload (field `file`) or the raw body; the name decides the format."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        try:
            form = await request.form()
        except Exception as exc:  # a malformed multipart body is the caller's error
            raise HTTPException(422, detail={"code": "multipart_invalid", "message": "无法解析上传的文件"}) from exc
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(422, detail={"code": "file_missing", "message": "请以 file 字段上传文件"})
        content = await upload.read()
        await form.close()
        return content, filename or upload.filename or "import.csv"
    return await request.body(), filename or "import.csv"


def lifecycle_router(registry: Any, clock: Any, rules: Rules) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["registry"])

    def scoped_student(actor: Any, student_id: UUID) -> None:
        require_scope(actor, registry.student(student_id).township_code, "学生")

    def scoped_home(actor: Any, student_id: str, absent_ok: bool = False) -> None:
        """403 unless the child's own jurisdiction (its registration, else its residence) is the caller's."""
        codes = registry.child_jurisdictions(student_id)
        if codes or not absent_ok:
            require_scope(actor, next((c for c in codes if actor.covers(c)), codes[0] if codes else None), "儿童")

    def scoped_child(actor: Any, id_number: str) -> None:
        require_scope(actor, registry.child_record(normalise_id_number(id_number)).township_code, "儿童")

    def act(action: str, student_id: UUID, body: _Body, actor: Any, meta: dict[str, Any]) -> dict[str, Any]:
        scoped_student(actor, student_id)
        fields = body.model_dump()
        if "school_id" in fields:
            require_scope(actor, registry.school(fields["school_id"]).township_code, "学校")
        return asdict(getattr(registry, action)(student_id, meta=meta, **fields))

    @router.post("/students/{student_id}/transfer-out", summary="转出")
    def transfer_out(student_id: UUID, body: TransferOut, actor: CurrentActor, meta: CommandMeta) -> dict[str, Any]:
        return act("transfer_out", student_id, body, actor, meta)

    @router.post("/students/{student_id}/transfer-in", summary="转入 (by the receiving school, any jurisdiction)")
    def transfer_in(student_id: UUID, body: TransferIn, actor: CurrentActor, meta: CommandMeta) -> dict[str, Any]:
        require_scope(actor, registry.school(body.school_id).township_code, "接收学校")
        return asdict(registry.transfer_in(student_id, meta=meta, **body.model_dump()))

    @router.post("/students/{student_id}/suspend", summary="休学")
    def suspend(student_id: UUID, body: Suspend, actor: CurrentActor, meta: CommandMeta) -> dict[str, Any]:
        return act("suspend", student_id, body, actor, meta)

    @router.post("/students/{student_id}/resume", summary="复学")
    def resume(student_id: UUID, body: Resume, actor: CurrentActor, meta: CommandMeta) -> dict[str, Any]:
        return act("resume", student_id, body, actor, meta)

    @router.post("/students/{student_id}/graduate", summary="毕业")
    def graduate(student_id: UUID, body: Graduate, actor: CurrentActor, meta: CommandMeta) -> dict[str, Any]:
        return act("graduate", student_id, body, actor, meta)

    @router.post("/students/{student_id}/admit", summary="小升初: registered at a junior school")
    def admit(student_id: UUID, body: Admit, actor: CurrentActor, meta: CommandMeta) -> dict[str, Any]:
        require_scope(actor, registry.school(body.school_id).township_code, "初中学校")
        return asdict(registry.admit(student_id, meta=meta, **body.model_dump()))

    @router.post("/students/{student_id}/place", summary="残疾儿童安置 (随班就读/特教学校/送教上门)")
    def place(student_id: UUID, body: Place, actor: CurrentActor, meta: CommandMeta) -> dict[str, Any]:
        return act("place", student_id, body, actor, meta)

    @router.post("/schools/{school_id}/close", status_code=204, summary="撤并")
    def close_school(school_id: UUID, body: SchoolClose, actor: CurrentActor, meta: CommandMeta) -> None:
        require_scope(actor, registry.school(school_id).township_code, "学校")
        registry.close_school(school_id, meta=meta, **body.model_dump())

    # -- imports ---------------------------------------------------------------------------------
    @router.post("/imports/{kind}", summary="Bulk import (CSV/XLSX as the body or a multipart upload); all or nothing "
                 "unless valid_only", openapi_extra=_IMPORT_BODY)
    async def import_file(
        kind: Literal["students", "population", "schools"], request: Request, actor: CurrentActor, meta: CommandMeta,
        filename: str | None = Query(None, max_length=255, description="Name of the file (.csv or .xlsx decides the "
                                     "format); default: the uploaded file's name, else import.csv"),
        source: Literal["public_security", "civil_affairs", "disability_federation", "poverty_alleviation",
                        "education"] = Query("public_security"),
        valid_only: bool = Query(False, description="Import the valid rows and report the others"),
    ) -> dict[str, Any]:
        content, filename = await _upload(request, filename)
        if not content:
            raise HTTPException(422, detail={"code": "file_empty", "message": "文件为空"})
        if kind == "schools":
            report = registry.import_schools(content, filename, meta, scope=actor.jurisdiction)
        else:
            report = registry.import_file(kind=kind, content=content, filename=filename, source=source,
                                          valid_only=valid_only, today=clock.today(), meta=meta,
                                          scope=actor.jurisdiction)
        return report.as_dict()

    # -- population ------------------------------------------------------------------------------
    @router.post("/population/records", summary="A source reports one child (linked by ID number)")
    def report_child(body: ChildReport, actor: CurrentActor, meta: CommandMeta) -> dict[str, Any]:
        fields = body.model_dump()
        attributes = {k: fields.pop(k) for k in list(fields) if k not in ("source", "id_number", "source_record_id",
                                                                         "flags")}
        require_scope(actor, attributes.get("township_code") or normalise_id_number(body.id_number)[:6], "儿童户籍地")
        if (known := registry.find_child_record(normalise_id_number(body.id_number))) is not None:
            require_scope(actor, known.township_code, "儿童现居住地")  # the child's own residence, not the request's
        scoped_home(actor, str(student_id_for(normalise_id_number(body.id_number))), absent_ok=True)
        child, outcome = registry.report_child(as_of=clock.today(), attributes=attributes, meta=meta, **fields)
        return {"student_id": str(student_id_for(child.id_number)), "outcome": outcome}

    @router.post("/population/life-events", summary="公安通报: deceased, moved away or emigrated")
    def life_event(body: LifeEvent, actor: CurrentActor, meta: CommandMeta) -> dict[str, Any]:
        scoped_child(actor, body.id_number)
        changed = registry.report_life_event(source="public_security", meta=meta, **body.model_dump())
        return {"changed": changed}

    @router.post("/population/life-events/corrections", status_code=204, summary="A wrong death/move report withdrawn")
    def correct(body: LifeEventCorrection, actor: CurrentActor, meta: CommandMeta) -> None:
        scoped_child(actor, body.id_number)
        registry.correct_life_event(source="public_security", meta=meta, **body.model_dump())

    @router.post("/population/deferrals", status_code=204, summary="延缓入学 with the county's approval")
    def defer(body: Deferral, actor: CurrentActor, meta: CommandMeta) -> None:
        scoped_child(actor, body.id_number)
        registry.defer_enrolment(today=clock.today(), meta=meta, **body.model_dump())

    @router.post("/population/merges", status_code=204, summary="Merge two records of one child")
    def merge(body: Merge, actor: CurrentActor, meta: CommandMeta) -> None:
        scoped_child(actor, body.survivor_id_number)
        scoped_child(actor, body.other_id_number)
        registry.merge_children(meta=meta, **body.model_dump())

    @router.post("/population/merges/undo", status_code=204, summary="Undo a wrong merge")
    def undo_merge(body: Merge, actor: CurrentActor, meta: CommandMeta) -> None:
        scoped_child(actor, body.survivor_id_number)
        scoped_child(actor, body.other_id_number)
        registry.undo_merge(meta=meta, **body.model_dump())

    # -- comparisons -----------------------------------------------------------------------------
    @router.post("/comparisons/run", summary="Run the census / transfer / 小升初 comparisons now")
    def run(body: ComparisonRun, actor: CurrentActor, meta: CommandMeta) -> dict[str, Any]:
        prefix = body.prefix or actor.jurisdiction
        require_scope(actor, prefix, "比对范围")
        as_of = body.as_of or clock.today()
        return {"as_of": as_of.isoformat(), "prefix": prefix,
                "results": registry.run_comparisons(prefix=prefix, as_of=as_of, rules=rules, meta=meta,
                                                    kinds=body.kinds)}

    # -- queries ---------------------------------------------------------------------------------
    @router.get("/children", summary="Find children by ID number or name (masked results, your jurisdiction)")
    def find(actor: CurrentActor, reader: Annotated[Reader, reading("verification")], id_number: str | None = None,
             name: str | None = None) -> list[dict[str, Any]]:
        if not id_number and not name:
            raise HTTPException(422, detail={"code": "query_missing", "message": "请提供 id_number 或 name"})
        found = registry.find_children(actor.jurisdiction, id_number=id_number, name=name)
        reader.viewed("child_search", [Subject(code, student_id=f["student_id"]) for f in found for code in {
            c for c in (f["residence_township_code"], (f["registration"] or {}).get("township_code")) if c}])
        return found

    @router.get("/children/{student_id}/history", summary="Every event about a child, with source and actor")
    def history(student_id: UUID, actor: CurrentActor,
                reader: Annotated[Reader, reading("verification")]) -> list[dict[str, Any]]:
        entries = registry.child_history(actor.jurisdiction, str(student_id))
        reader.viewed("child_history", [Subject(code, student_id=str(student_id))
                                        for code in registry.child_jurisdictions(str(student_id))])
        return entries

    @router.get("/children/by-id-number/{id_number}/provenance", summary="Who said what about a child")
    def provenance(id_number: str, actor: CurrentActor,
                   reader: Annotated[Reader, reading("data_correction")]) -> dict[str, Any]:
        child = registry.child_record(normalise_id_number(id_number))
        scoped_home(actor, str(student_id_for(child.id_number)))
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
        return registry.grade_counts(prefix, by="school" if by == "school" else "township_code")

    @router.get("/jurisdictions", summary="The division hierarchy as of a date")
    def jurisdictions(actor: CurrentActor, as_of: date | None = None,
                      prefix: str | None = Query(None, pattern=r"^[0-9]{2,12}$")) -> list[dict[str, Any]]:
        prefix = prefix or actor.jurisdiction
        require_scope(actor, prefix, "区划")
        return registry.hierarchy(prefix, as_of or clock.today())

    @router.post("/jurisdictions/load", summary="Load the packaged GB/T 2260 division codes under your jurisdiction")
    def load(actor: CurrentActor, meta: CommandMeta) -> dict[str, Any]:
        return registry.load_divisions(prefix=actor.jurisdiction, meta=meta)

    @router.post("/jurisdictions/{code}/changes", status_code=204,
                 summary="Rename, merge (the township's schools move with it) or abolish, from a date")
    def change(code: str, body: DivisionChange, actor: CurrentActor, meta: CommandMeta) -> None:
        require_scope(actor, code, "区划")
        if body.target_code:
            require_scope(actor, body.target_code, "合并目标区划")
        registry.change_division(code=code, meta=meta, **body.model_dump())

    @router.post("/jurisdictions", summary="A new township or village (12-digit code) from a date")
    def establish(body: DivisionCreate, actor: CurrentActor, meta: CommandMeta, response: Response) -> dict[str, Any]:
        require_scope(actor, body.code, "区划")
        created = registry.establish_division(meta=meta, **body.model_dump())
        response.status_code = 201 if created else 200
        return {"code": body.code, "created": created}

    @router.get("/schools", summary="Schools as of a date (opened by then, in the township they belonged to then)")
    def schools(actor: CurrentActor, as_of: date | None = None,
                jurisdiction: str | None = Query(None, pattern=CODE + "|^[0-9]{12}$"),
                include_closed: bool = Query(False, description="Also list schools closed (撤并) by then")
                ) -> list[dict[str, Any]]:
        prefix = jurisdiction or actor.jurisdiction
        require_scope(actor, prefix, "学校范围")
        return registry.schools_as_of(prefix, as_of or clock.today(), include_closed=include_closed)

    # -- thresholds per jurisdiction -------------------------------------------------------------
    @router.put("/jurisdictions/{code}/comparison-rules", response_model=ComparisonRulesPublic,
                summary="Set a jurisdiction's comparison thresholds (a new version; most specific prefix wins)")
    def set_rules(code: Annotated[str, Path(pattern=CODE)], body: ComparisonRulesSet, actor: CurrentActor,
                  meta: CommandMeta) -> ComparisonRulesPublic:
        require_scope(actor, code, "辖区")
        return _rules_public(registry.set_comparison_rules(
            jurisdiction=code, body=body.model_dump(exclude_none=True), default=rules, meta=meta))

    @router.get("/jurisdictions/{code}/comparison-rules", response_model=ComparisonRulesPublic,
                summary="The comparison thresholds that apply to a code (its own, an enclosing one, or the default)")
    def get_rules(code: Annotated[str, Path(pattern=CODE + "|^[0-9]{12}$")], actor: CurrentActor
                  ) -> ComparisonRulesPublic:
        require_scope(actor, code, "辖区")
        return _rules_public(registry.comparison_rules(code, rules))

    return router
