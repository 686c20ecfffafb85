"""Bulk imports of schools, students and the population: validated whole, then written all, none or the valid rows.

Bulk paths write through `BulkWriter` (thousands of events per insert transaction).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Callable

from services.registry.adapters.bulk import BulkWriter
from services.registry.adapters.import_files import Parsed, RowError, parse_date, read_table, validate
from services.registry.application.base import UseCase
from services.registry.application.registration import Registration
from services.registry.application.ports import ReadModel
from services.registry.application.store import RegistryApp
from services.registry.domain.blinding import index_record
from services.registry.domain.errors import InvalidInput
from services.registry.domain.population import Child, child_id_for, make_record, record_key, same_record
from services.registry.domain.registration import School, Student, student_id_for


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


class Imports(UseCase):
    """Imports a file of schools, students (学籍) or population records."""

    def __init__(self, store: RegistryApp, index: ReadModel, registration: Registration) -> None:
        super().__init__(store, index)
        self.registration = registration

    def import_schools(self, content: bytes, filename: str, meta: dict[str, Any], scope: str = "") -> ImportReport:
        """Schools from CSV/XLSX (code, name, level, county_code, township_code); all or nothing."""
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
            _, created = self.registration.register_school(
                code=raw["code"], name=raw["name"], level=raw["level"], county_code=raw["county_code"],
                township_code=raw["township_code"], opened_on=raw.get("opened_on") or None, meta=meta)
            report.created += created
            report.unchanged += not created
        return report

    # -- bulk import -------------------------------------------------------------------------------
    def import_file(self, *, kind: str, content: bytes, filename: str, source: str, valid_only: bool,
                    today: date, meta: dict[str, Any], batch_size: int = 5000, scope: str = "") -> ImportReport:
        """Validates the whole file, then writes all of it, nothing, or (if asked) the valid rows only."""
        self.index.catch_up(self.store)
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
        memo: dict[str, Any] = {}  # id number -> student id: keyed (an HMAC), computed once per row, not four times

        def sid(id_number: str) -> Any:
            found = memo.get(id_number)
            if found is None:
                found = memo[id_number] = student_id_for(id_number)
            return found

        plan = self._plan_students(parsed, schools, sid) if kind == "students" else self._plan_children(
            parsed, source, today, scope)
        errors = sorted(parsed.errors, key=lambda e: e.line)
        report = ImportReport(kind, parsed.sha256, parsed.total, len(parsed.rows), errors, False)
        if errors and not valid_only:
            return report
        writer = BulkWriter(self.store, batch_size=batch_size)
        meta = {**meta, "import_sha256": parsed.sha256}
        sealer = getattr(self.store.mapper, "sealer", None)
        if sealer is not None:  # which of the file's children already have a data key, in a few queries
            sealer.prefetch([str((sid if a == "create_student" else child_id_for)(p["id_number"]))
                             for a, p in plan if a in ("create_student", "create_child")], for_write=True)
        try:
            for action, payload in plan:
                if action == "create_student":
                    writer.created(Student, Student.Enrolled, sid(payload["id_number"]),
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
                    child = self._get(Child, child_id_for(payload["id_number"]))
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
        report.student_ids = [{"line": line, "student_id": str(sid(row["id_number"]))}
                              for line, row in parsed.rows]
        return report

    def _school_table(self) -> dict[str, dict[str, Any]]:
        return {r["code"]: {**r, "school_id": k} for k, r in self.index.rows("school_index", "")
                if r.get("closed_on") is None}

    def _known_townships(self) -> set[str]:
        return {r["code"] for _, r in self.index.rows("division_index", "", field="code")
                if r["level"] == "township" and r.get("ended") is None}

    def _plan_students(self, parsed: Parsed, schools: dict[str, dict[str, Any]],
                       sid: Callable[[str], Any] = student_id_for) -> list[tuple[str, Any]]:
        ids = [str(sid(r["id_number"])) for _, r in parsed.rows]
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
