"""The recipients directory: who answers for a jurisdiction in each official role, and which notifications
wait for someone to be named. One aggregate per county (and one per prefecture, for its own officers), so a lookup that finds nobody and an import that names
somebody touch the same aggregate (optimistic concurrency settles their race). Pure: no I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.notifications.domain.errors import DirectoryRuleBroken
from services.notifications.domain.notifications import NAMESPACE

TOWNSHIP_OFFICER = "township_officer"
COUNTY_OFFICER = "county_officer"
JUSTICE_OFFICER = "justice_officer"
PREFECTURE_OFFICER = "prefecture_officer"  # 市（州）教育局: hears of its counties' late reports and escalations
DIRECTORY_ROLES = (TOWNSHIP_OFFICER, COUNTY_OFFICER, JUSTICE_OFFICER, PREFECTURE_OFFICER)
LEVELS = (12, 9, 6, 4)  # village → township → county (→ prefecture): the nearest level with someone in the role answers
LEVEL_ROLES = {9: TOWNSHIP_OFFICER, 6: COUNTY_OFFICER, 4: PREFECTURE_OFFICER}  # who answers for a unit of a level


@dataclass(frozen=True)
class Recipient:
    """A person the directory names for a role in a jurisdiction, and where to reach them."""

    role: str
    jurisdiction_code: str
    user_id: str
    name: str
    address: str | None = None


def county_of(code: str) -> str:
    """The county a jurisdiction code lies in (its directory's key); a prefecture's own code keys the prefecture's
    directory (its officers only: a county's directory never looks above the county)."""
    return code[:6]


def directory_id_for(county_code: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"directory:{county_code}")


def check_entry(role: str, code: str) -> None:
    """Directory entries name a known official role at a county, township or village code; prefecture officers at
    a prefecture's code (4 digits), and only they."""
    if role not in DIRECTORY_ROLES:
        raise DirectoryRuleBroken(f"未知的接收人角色 {role}", rule="directory_role")
    if len(code) not in LEVELS or not code.isdigit():
        raise DirectoryRuleBroken(f"行政区划代码 {code} 应为市州(4位)、县(6位)、乡镇(9位)或村(12位)",
                                  rule="directory_level")
    if (role == PREFECTURE_OFFICER) != (len(code) == 4):
        raise DirectoryRuleBroken("市（州）教育局接收人须登记在市州代码(4位)，市州代码只登记市（州）教育局接收人",
                                  rule="directory_prefecture")


def _key(role: str, code: str, user_id: str) -> str:
    return f"{role}|{code}|{user_id}"


class CountyDirectory(Aggregate):
    """Recipients in one county by role and code, and the notifications parked until a recipient is named."""

    @event("Started")
    def __init__(self, county_code: str, meta: dict[str, Any]):
        self.county_code = county_code
        self.entries: dict[str, dict[str, Any]] = {}
        self.parked: dict[str, dict[str, str]] = {}
        self.meta = meta

    @staticmethod
    def create_id(county_code: str, **_: Any) -> uuid.UUID:
        return directory_id_for(county_code)

    def recipients(self) -> list[Recipient]:
        return [Recipient(**e) for e in self.entries.values()]

    def nearest(self, role: str, code: str) -> list[Recipient]:
        """The recipients in a role at the nearest level at or above the code (village → township → county)."""
        for level in LEVELS:
            if len(code) < level:
                continue
            found = [r for r in self.recipients() if r.role == role and r.jurisdiction_code == code[:level]]
            if found:
                return sorted(found, key=lambda r: r.user_id)
        return []

    def list_recipient(self, recipient: Recipient, meta: dict[str, Any]) -> bool:
        """Adds or updates a recipient; True when something changed."""
        check_entry(recipient.role, recipient.jurisdiction_code)
        if county_of(recipient.jurisdiction_code) != self.county_code:
            raise DirectoryRuleBroken("接收人不属于本县目录", rule="directory_county")
        entry = {
            "role": recipient.role, "jurisdiction_code": recipient.jurisdiction_code, "user_id": recipient.user_id,
            "name": recipient.name, "address": recipient.address,
        }
        if self.entries.get(_key(recipient.role, recipient.jurisdiction_code, recipient.user_id)) == entry:
            return False
        self._listed(entry=entry, meta=meta)
        return True

    @event("RecipientListed")
    def _listed(self, entry: dict[str, Any], meta: dict[str, Any]) -> None:
        self.entries[_key(entry["role"], entry["jurisdiction_code"], entry["user_id"])] = entry
        self.meta = meta

    def unlist(self, role: str, code: str, user_id: str, meta: dict[str, Any]) -> bool:
        """Removes a recipient; True when one was listed."""
        if _key(role, code, user_id) not in self.entries:
            return False
        self._unlisted(role=role, jurisdiction_code=code, user_id=user_id, meta=meta)
        return True

    @event("RecipientUnlisted")
    def _unlisted(self, role: str, jurisdiction_code: str, user_id: str, meta: dict[str, Any]) -> None:
        del self.entries[_key(role, jurisdiction_code, user_id)]
        self.meta = meta

    def park(self, notification_id: str, role: str, code: str, meta: dict[str, Any]) -> None:
        """Keeps a notification until someone holds the role for the code."""
        if notification_id not in self.parked:
            self._parked(notification_id=notification_id, role=role, jurisdiction_code=code, meta=meta)

    @event("NotificationParked")
    def _parked(self, notification_id: str, role: str, jurisdiction_code: str, meta: dict[str, Any]) -> None:
        self.parked[notification_id] = {"role": role, "jurisdiction_code": jurisdiction_code}
        self.meta = meta

    def deliverable(self) -> list[tuple[str, list[Recipient]]]:
        """Parked notifications that somebody can now receive, with their recipients."""
        out = []
        for notification_id, slot in self.parked.items():
            found = self.nearest(slot["role"], slot["jurisdiction_code"])
            if found:
                out.append((notification_id, found))
        return out

    def release(self, notification_ids: list[str], meta: dict[str, Any]) -> None:
        """Forgets parked notifications that have now been delivered."""
        ids = [n for n in notification_ids if n in self.parked]
        if ids:
            self._released(notification_ids=ids, meta=meta)

    @event("NotificationsReleased")
    def _released(self, notification_ids: list[str], meta: dict[str, Any]) -> None:
        for n in notification_ids:
            self.parked.pop(n, None)
        self.meta = meta
