"""The school-age population (适龄儿童少年台账): one record per child, linked from several sources. Pure.

Each source (public security, civil affairs, disability federation, poverty-alleviation office, education)
reports records keyed by the national ID number. Every record is kept with its source and date, so each
attribute has its provenance and disagreements between sources are visible instead of overwritten. A
wrong merge of two children is undone by unlinking the records it brought.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.registry.domain import pseudonyms
from services.registry.domain.errors import Conflict, InvalidInput
from services.registry.domain.registration import normalise_id_number, student_id_for

SOURCES = ("public_security", "civil_affairs", "disability_federation", "poverty_alleviation", "education")
SOURCE_NAMES = {
    "public_security": "公安户籍",
    "civil_affairs": "民政",
    "disability_federation": "残联",
    "poverty_alleviation": "乡村振兴(扶贫)",
    "education": "教育",
}
ATTRIBUTES = ("name", "birth_date", "gender", "township_code", "village_code", "guardian_name", "guardian_phone")
# Special groups (特殊群体) with the documents' words.
FLAGS = {
    "left_behind": "留守儿童",
    "migrant": "随迁子女",
    "disabled": "残疾儿童",
    "orphan": "孤儿",
    "de_facto_unsupported": "事实无人抚养",
    "hardship": "困境儿童",
    "registered_poor": "建档立卡",
    "poverty_exit": "脱贫户",
    "monitored": "监测户",
    "marginal": "边缘户",
    "returning": "返乡儿童",
    "single_parent": "单亲家庭",
    "learning_difficulty": "学困生",
}
DISABILITY_DEGREES = ("1", "2", "3", "4")  # 残疾等级 一至四级
LIFE_STATUSES = ("deceased", "moved_away", "emigrated")


def child_id_for(id_number: str) -> uuid.UUID:
    """Deterministic population record id from the normalised ID number, keyed like `student_id_for`."""
    return pseudonyms.keyed_uuid("child", normalise_id_number(id_number))


def record_key(source: str, id_number: str, source_record_id: str | None = None) -> str:
    """A record's key inside its child: the source (and its own record id when it gives one; never the ID number)."""
    return f"{source}:{source_record_id}" if source_record_id else source


def check_record(source: str, attributes: dict[str, Any], flags: dict[str, dict[str, Any]]) -> None:
    """Rules for one source record (a named source, known attributes, known flags with a valid degree)."""
    if source not in SOURCES:
        raise InvalidInput(f"数据来源无效: {source}", rule="source")
    unknown = set(attributes) - set(ATTRIBUTES)
    if unknown:
        raise InvalidInput(f"未知属性: {', '.join(sorted(unknown))}", rule="attribute")
    for flag, detail in flags.items():
        if flag not in FLAGS:
            raise InvalidInput(f"特殊群体标记无效: {flag}", rule="flag")
        degree = (detail or {}).get("degree")
        if flag == "disabled" and degree is not None and str(degree) not in DISABILITY_DEGREES:
            raise InvalidInput("残疾等级须为1-4级", rule="disability_degree")


def make_record(
    *, source: str, key: str, as_of: date, attributes: dict[str, Any], flags: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """One source record in its stored form (dates as ISO text, empty values dropped)."""
    attrs = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in attributes.items() if v not in (None, "")}
    return {
        "key": key,
        "source": source,
        "as_of": as_of.isoformat(),
        "attributes": dict(sorted(attrs.items())),
        "flags": {f: {k: v for k, v in sorted((d or {}).items()) if v not in (None, "")} for f, d in sorted(flags.items())},
    }


def same_record(a: dict[str, Any] | None, b: dict[str, Any]) -> bool:
    """True when a new report says nothing the stored record does not already say (the date aside)."""
    return a is not None and a["attributes"] == b["attributes"] and a["flags"] == b["flags"]


class Child(Aggregate):
    """A child of the population ledger, with every source record that was linked to it."""

    @event("Registered")
    def __init__(self, id_number: str, record: dict[str, Any], meta: dict[str, Any]):
        self.id_number = id_number
        self.records: dict[str, dict[str, Any]] = {record["key"]: record}
        self.merged_from: dict[str, list[str]] = {}
        self.status = "active"
        self.status_detail: dict[str, Any] | None = None
        self.deferral: dict[str, Any] | None = None
        self.merged_into: str | None = None
        self.meta = meta

    @staticmethod
    def create_id(id_number: str, **_: Any) -> uuid.UUID:
        return child_id_for(id_number)

    @classmethod
    def register(cls, *, id_number: str, record: dict[str, Any], meta: dict[str, Any]) -> "Child":
        """A new child from a first source record (and its special groups, when the record names any)."""
        child = cls(id_number=id_number, record=record, meta=meta)
        child._note_groups(date.fromisoformat(record["as_of"]), meta)
        return child

    # -- reports from sources -----------------------------------------------------------------
    def report(self, record: dict[str, Any], meta: dict[str, Any]) -> bool:
        """A source reports a record; False when it repeats what is already recorded (re-import harmless)."""
        self._require_active_record()
        if same_record(self.records.get(record["key"]), record):
            return False
        self._reported(record=record, meta=meta)
        self._note_groups(date.fromisoformat(record["as_of"]), meta)
        return True

    @event("Reported")
    def _reported(self, record: dict[str, Any], meta: dict[str, Any]) -> None:
        self.records[record["key"]] = record
        self.meta = meta

    def _require_active_record(self) -> None:
        if self.merged_into is not None:
            raise Conflict("该记录已合并到另一儿童，请对合并后的记录操作", rule="not_merged")

    # -- public security: death, moving away, corrections ----------------------------------------
    def report_life_event(self, *, status: str, on: date, source: str, reference: str | None,
                          to_region_code: str | None, meta: dict[str, Any]) -> bool:
        """公安通报 a death, a move out of the area or emigration; False when already recorded so."""
        if status not in LIFE_STATUSES:
            raise InvalidInput(f"状态无效: {status}", rule="life_status")
        if self.status == status:
            return False
        self._life_event_reported(status=status, on=on, source=source, reference=reference,
                                  to_region_code=to_region_code, **self._where(), meta=meta)
        return True

    def _where(self) -> dict[str, str]:
        return {"student_id": str(student_id_for(self.id_number)), "township_code": self.township_code}

    @event("LifeEventReported")
    def _life_event_reported(self, status: str, on: date, source: str, reference: str | None,
                             to_region_code: str | None, student_id: str, township_code: str,
                             meta: dict[str, Any]) -> None:
        self.status = status
        self.status_detail = {"on": on.isoformat(), "source": source, "reference": reference,
                              "to_region_code": to_region_code}
        self.meta = meta

    def correct_life_event(self, *, reason: str, source: str, meta: dict[str, Any]) -> None:
        """The source withdraws a wrong death or move report: the child is resident again."""
        if self.status not in LIFE_STATUSES:
            raise Conflict("没有可更正的死亡或迁出记录", rule="life_event_exists")
        self._life_event_corrected(reason=reason, source=source, **self._where(), meta=meta)

    @event("LifeEventCorrected")
    def _life_event_corrected(self, reason: str, source: str, student_id: str, township_code: str,
                              meta: dict[str, Any]) -> None:
        self.status, self.status_detail, self.meta = "active", None, meta

    # -- 延缓入学 (deferred enrolment, approved by the county) ------------------------------------
    def defer(self, *, until: date, reason: str, approval_ref: str, approved_by: str, today: date,
              meta: dict[str, Any]) -> None:
        if not approval_ref.strip() or not approved_by.strip():
            raise InvalidInput("延缓入学须有县级审批文号和审批人", rule="deferral_approved")
        if until <= today:
            raise InvalidInput("延缓截止日期须晚于今天", rule="deferral_period")
        self._enrolment_deferred(until=until, reason=reason, approval_ref=approval_ref, approved_by=approved_by,
                                 **self._where(), meta=meta)

    @event("EnrolmentDeferred")
    def _enrolment_deferred(self, until: date, reason: str, approval_ref: str, approved_by: str, student_id: str,
                            township_code: str, meta: dict[str, Any]) -> None:
        self.deferral = {"until": until.isoformat(), "reason": reason, "approval_ref": approval_ref,
                         "approved_by": approved_by}
        self.meta = meta

    def deferred_on(self, day: date) -> bool:
        return self.deferral is not None and date.fromisoformat(self.deferral["until"]) >= day

    # -- merging two records of one child, and undoing it ----------------------------------------
    def absorb(self, other: "Child", *, reason: str, meta: dict[str, Any]) -> None:
        """Links the other record's source records here (same child under two ID numbers)."""
        if other.id == self.id:
            raise InvalidInput("不能与自身合并", rule="merge_distinct")
        self._require_active_record()
        other._require_active_record()
        self._merged(other_child_id=str(other.id), other_id_number=other.id_number,
                     records=list(other.records.values()), reason=reason, meta=meta)
        other._merged_into(survivor_id=str(self.id), reason=reason, meta=meta)
        on = _day_of(meta, self)
        self._note_groups(on, meta)
        other._note_groups(on, meta)

    @event("Merged")
    def _merged(self, other_child_id: str, other_id_number: str, records: list[dict[str, Any]], reason: str,
                meta: dict[str, Any]) -> None:
        keys = []
        for record in records:
            key = f"merged:{other_child_id}:{record['key']}"
            self.records[key] = {**record, "key": key, "via_merge": other_child_id}
            keys.append(key)
        self.merged_from[other_child_id] = keys
        self.meta = meta

    @event("MergedInto")
    def _merged_into(self, survivor_id: str, reason: str, meta: dict[str, Any]) -> None:
        self.merged_into, self.meta = survivor_id, meta

    def undo_merge(self, other: "Child", *, reason: str, meta: dict[str, Any]) -> None:
        """A wrong merge is undone: the records it brought leave, the other child stands alone again."""
        if str(other.id) not in self.merged_from or other.merged_into != str(self.id):
            raise Conflict("这两条记录之间没有可撤销的合并", rule="merge_exists")
        self._merge_undone(other_child_id=str(other.id), reason=reason, meta=meta)
        other._unmerged(survivor_id=str(self.id), reason=reason, meta=meta)
        on = _day_of(meta, self)
        self._note_groups(on, meta)
        other._note_groups(on, meta)

    @event("MergeUndone")
    def _merge_undone(self, other_child_id: str, reason: str, meta: dict[str, Any]) -> None:
        for key in self.merged_from.pop(other_child_id):
            self.records.pop(key, None)
        self.meta = meta

    @event("Unmerged")
    def _unmerged(self, survivor_id: str, reason: str, meta: dict[str, Any]) -> None:
        self.merged_into, self.meta = None, meta

    # -- special groups (特殊群体), published as codes whenever they change -------------------------
    @property
    def special_groups(self) -> list[dict[str, Any]]:
        """The groups last recorded (current and ended); children recorded before groups were kept have none."""
        return self.__dict__.get("_special_groups", [])

    def _note_groups(self, on: date, meta: dict[str, Any]) -> bool:
        """Records the child's groups when what the linked records say differs from what was last recorded."""
        current = {} if self.merged_into is not None else current_groups(self.records.values())
        groups = next_groups(self.special_groups, current, on)
        if groups == self.special_groups:
            return False
        self._special_groups_changed(groups=groups, **self._where(), meta=meta)
        return True

    @event("SpecialGroupsChanged")
    def _special_groups_changed(self, groups: list[dict[str, Any]], student_id: str, township_code: str,
                                meta: dict[str, Any]) -> None:
        self._special_groups, self.meta = groups, meta

    # -- what the sources say, with provenance ---------------------------------------------------
    def provenance(self) -> dict[str, list[dict[str, Any]]]:
        """Per attribute: every value any linked record gave, with its source, record and date."""
        out: dict[str, list[dict[str, Any]]] = {}
        for record in self.records.values():
            for attribute, value in record["attributes"].items():
                out.setdefault(attribute, []).append(
                    {"value": value, "source": record["source"], "record": record["key"], "as_of": record["as_of"]}
                )
        return out

    def resolved(self) -> dict[str, Any]:
        """The value the ledger uses per attribute: the most authoritative source, then the latest report."""
        return resolve(self.records.values())

    def conflicts(self) -> dict[str, list[dict[str, Any]]]:
        """Attributes the linked records disagree on, with who said what."""
        return {a: vs for a, vs in self.provenance().items() if len({str(v["value"]) for v in vs}) > 1}

    def flags(self) -> dict[str, list[dict[str, Any]]]:
        """Special-group flags with every source that asserts them and since when."""
        out: dict[str, list[dict[str, Any]]] = {}
        for record in self.records.values():
            for flag, detail in record["flags"].items():
                out.setdefault(flag, []).append({"source": record["source"], "as_of": record["as_of"], **detail})
        return out

    @property
    def township_code(self) -> str:
        """Where the child lives: the resolved township, else the county that issued the ID number."""
        return self.resolved().get("township_code") or self.id_number[:6]

    @property
    def birth_date(self) -> date:
        value = self.resolved().get("birth_date")
        return date.fromisoformat(value) if value else date(int(self.id_number[6:10]), int(self.id_number[10:12]),
                                                           int(self.id_number[12:14]))


def resolve(records: Any) -> dict[str, Any]:
    """Resolved attributes of a set of records: source priority first, the latest report second."""
    rank = {s: i for i, s in enumerate(SOURCES)}
    ordered = sorted(records, key=lambda r: (rank.get(r["source"], 99), _neg_date(r["as_of"])))
    out: dict[str, Any] = {}
    for record in ordered:
        for attribute, value in record["attributes"].items():
            out.setdefault(attribute, value)
    return out


def _neg_date(iso: str) -> int:
    return -date.fromisoformat(iso).toordinal()


def current_groups(records: Any) -> dict[str, dict[str, Any]]:
    """The groups the linked records name now: since the earliest report naming each, that report's source
    (ties: the more authoritative source), and the disability degree any of them gives."""
    rank = {s: i for i, s in enumerate(SOURCES)}
    out: dict[str, dict[str, Any]] = {}
    for record in sorted(records, key=lambda r: (r["as_of"], rank.get(r["source"], 99))):
        for flag, detail in record["flags"].items():
            group = out.setdefault(flag, {"group": flag, "since": record["as_of"], "source": record["source"],
                                          "degree": None})
            degree = (detail or {}).get("degree")
            if flag == "disabled" and degree is not None and group["degree"] is None:
                group["degree"] = str(degree)
    return out


def next_groups(previous: list[dict[str, Any]], current: dict[str, dict[str, Any]], on: date) -> list[dict[str, Any]]:
    """The list to record: ended groups stay as they were, current ones follow the records, a group no record
    names any longer ends on the day of the change, a group named again starts a new entry."""
    out, still_open = [], set()
    for entry in previous:
        if entry["until"] is not None:
            out.append(entry)
        elif entry["group"] in current:
            now = current[entry["group"]]
            out.append({**entry, "source": now["source"], "degree": now["degree"]})
            still_open.add(entry["group"])
        else:
            out.append({**entry, "until": max(on.isoformat(), entry["since"])})
    for code, now in current.items():
        if code not in still_open:
            out.append({"group": code, "since": now["since"], "until": None, "source": now["source"],
                        "degree": now["degree"]})
    return sorted(out, key=lambda g: (g["group"], g["since"], g["until"] or "9999-12-31"))


def _day_of(meta: dict[str, Any], child: Child) -> date:
    """The business day of a command (its meta), else the latest report linked to the child."""
    at = (meta or {}).get("at")
    if at:
        return date.fromisoformat(str(at)[:10])
    return max(date.fromisoformat(r["as_of"]) for r in child.records.values())
