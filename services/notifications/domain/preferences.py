"""A recipient's delivery preferences: which channels (and where), which kinds of message they do not want,
and their quiet hours. Pure value objects and rules; the field named in every refusal."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from services.notifications.domain.delivery import QuietHours
from services.notifications.domain.errors import PreferenceRuleBroken
from services.notifications.domain.templates import TEMPLATES

CHANNELS = ("sms", "wecom", "dingtalk", "email", "file")  # file: the local provider (development runs)
ADDRESSED = {"sms": re.compile(r"^(\+86)?1[3-9]\d{9}$"), "email": re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}$")}
WITH_MOBILE = ("wecom", "dingtalk")  # robots @-mention a mobile number when one is given
MOBILE = ADDRESSED["sms"]


@dataclass(frozen=True)
class Preference:
    """Who wants what: channel -> address (None: the directory's address), muted templates, quiet hours."""

    user_id: str
    jurisdiction_code: str
    channels: dict[str, str | None]
    muted: frozenset[str] = field(default_factory=frozenset)
    quiet_hours: QuietHours | None = None

    def wants(self, template: str) -> bool:
        return template not in self.muted

    def as_dict(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "jurisdiction_code": self.jurisdiction_code, "channels": dict(self.channels),
                "muted_templates": sorted(self.muted),
                "quiet_hours": str(self.quiet_hours) if self.quiet_hours else None}


def make_preference(user_id: str, jurisdiction_code: str, channels: dict[str, str | None], muted: list[str],
                    quiet_hours: str | None) -> Preference:
    """Checks every field and builds the preference; a bad value raises naming its field."""
    if not re.fullmatch(r"\d{6}(\d{3}(\d{3})?)?", jurisdiction_code):
        raise PreferenceRuleBroken("jurisdiction_code 必须是6、9或12位行政区划代码", rule="jurisdiction_code")
    if not channels:
        raise PreferenceRuleBroken("channels 至少需要一个渠道", rule="channels")
    for name, address in channels.items():
        if name not in CHANNELS:
            raise PreferenceRuleBroken(f"channels 含未知渠道：{name}", rule="channels")
        pattern = ADDRESSED.get(name) or (MOBILE if name in WITH_MOBILE else None)
        if address is not None and pattern is not None and not pattern.fullmatch(address.strip()):
            raise PreferenceRuleBroken(f"channels.{name} 的地址格式不正确", rule=f"channels.{name}")
    unknown = [t for t in muted if t not in TEMPLATES]
    if unknown:
        raise PreferenceRuleBroken(f"muted_templates 含未知消息类型：{unknown[0]}", rule="muted_templates")
    try:
        quiet = QuietHours.parse(quiet_hours) if quiet_hours else None
    except ValueError:
        raise PreferenceRuleBroken("quiet_hours 格式应为 HH:MM-HH:MM", rule="quiet_hours") from None
    return Preference(user_id, jurisdiction_code, {k: (v.strip() if v else None) for k, v in channels.items()},
                      frozenset(muted), quiet)
