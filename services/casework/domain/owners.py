"""双线四包: the responsibility map of a township, and how a case finds its named owners in it.

An entry names who holds one slot for a scope: the whole township, a village, a village group, a
school, or one student (the household level of 四包). The most specific matching entry wins.
"""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.casework.domain.codes import OWNER_SLOTS
from services.casework.domain.errors import InvalidInput
from services.casework.domain.ids import responsibility_map_id_for

ENTRY_FIELDS = ("slot", "village_code", "group", "school_id", "student_id", "user_id", "name")


def entry_key(entry: dict[str, Any]) -> str:
    """What an entry is responsible for: one slot of one scope (a later entry for it replaces the earlier)."""
    return "|".join(str(entry.get(k) or "") for k in ("slot", "village_code", "group", "school_id", "student_id"))


def checked_entry(raw: dict[str, Any], township_code: str) -> dict[str, Any]:
    """An entry with blank fields as None, refused unless it names a slot, a person and a scope in the township."""
    entry = {k: (str(raw.get(k)).strip() or None) if raw.get(k) is not None else None for k in ENTRY_FIELDS}
    if entry["slot"] not in OWNER_SLOTS:
        raise InvalidInput(f"责任人类别无效: {entry['slot']}（可选：{'、'.join(OWNER_SLOTS)}）", rule="map.slot")
    if not entry["user_id"]:
        raise InvalidInput("责任表条目须有责任人编号", rule="map.user_required")
    village = entry["village_code"]
    if village and (len(village) != 12 or not village.isdigit() or not village.startswith(township_code)):
        raise InvalidInput(f"村（社区）代码须为本乡镇下的12位代码: {village}", rule="map.village_code")
    if entry["group"] and not village and not entry["student_id"]:
        raise InvalidInput("组须与所在村一起填写", rule="map.group_needs_village")
    return entry


def specificity(entry: dict[str, Any]) -> tuple[int, int, int, int]:
    return (bool(entry["student_id"]), bool(entry["group"]), bool(entry["village_code"]), bool(entry["school_id"]))


def resolve(entries: list[dict[str, Any]], *, student_id: str, school_id: str | None, village_code: str | None,
            group: str | None, class_head_teacher: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """For each slot, the most specific entry that fits the case (ties: the latest written). The registry's class
    head teacher ranks below an entry for the student and above entries for a group, village or school."""
    best: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if entry["student_id"] and entry["student_id"] != student_id:
            continue
        if entry["school_id"] and entry["school_id"] != school_id:
            continue
        if entry["village_code"] and entry["village_code"] != village_code:
            continue
        if entry["group"] and entry["group"] != group:
            continue
        slot = entry["slot"]
        if slot not in best or specificity(entry) >= specificity(best[slot]):
            best[slot] = entry
    found = {slot: {"user_id": e["user_id"], "name": e["name"]} for slot, e in best.items()}
    mapped = best.get("head_teacher")
    if class_head_teacher and not (mapped and mapped["student_id"]):
        found["head_teacher"] = {"user_id": class_head_teacher["user_id"], "name": class_head_teacher.get("name"),
                                 "source": "registry"}
    return found


class ResponsibilityMap(Aggregate):
    """A township's 双线四包 responsibility table, edited by import or entry by entry, with history."""

    @event("Started")
    def __init__(self, township_code: str, meta: dict[str, Any]) -> None:
        self.township_code = township_code
        self.meta = meta
        self.entries: dict[str, dict[str, Any]] = {}

    @staticmethod
    def create_id(township_code: str, **_: Any) -> uuid.UUID:
        return responsibility_map_id_for(township_code)

    def put(self, raw_entries: list[dict[str, Any]], replace: bool, source: str, meta: dict[str, Any]) -> int:
        """Adds or replaces entries (``replace``: the import is the whole table); returns entries written."""
        entries = [checked_entry(raw, self.township_code) for raw in raw_entries]
        if not entries and not replace:
            return 0
        self._entries_put(entries=entries, replace=replace, source=source, meta=meta)
        return len(entries)

    @event("EntriesPut")
    def _entries_put(self, entries: list[dict[str, Any]], replace: bool, source: str, meta: dict[str, Any]) -> None:
        if replace:
            self.entries = {}
        for entry in entries:
            self.entries[entry_key(entry)] = entry

    def remove(self, key: str, meta: dict[str, Any]) -> bool:
        if key not in self.entries:
            return False
        self._entry_removed(key=key, meta=meta)
        return True

    @event("EntryRemoved")
    def _entry_removed(self, key: str, meta: dict[str, Any]) -> None:
        del self.entries[key]

    def owners_for(self, *, student_id: str, school_id: str | None, village_code: str | None,
                   group: str | None) -> dict[str, dict[str, Any]]:
        return resolve(list(self.entries.values()), student_id=student_id, school_id=school_id,
                       village_code=village_code, group=group)
