"""Directory use cases: import, edit and remove recipients, and deliver what was waiting for them — all in
one save per command, retried when the consumer changed the same county directory meanwhile."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from services.notifications.application.dispatch import Dispatcher
from services.notifications.domain import CountyDirectory, NotificationError, Recipient, check_entry, county_of
from services.runtime import errors
from services.runtime.aggregates import save_with_retry
from services.runtime.csvinput import decode_text, guarded
from services.runtime.jsoninput import parse_json
from services.runtime.validation import id_problem, text_problem

FIELDS = ("jurisdiction_code", "role", "user_id", "name", "address")


class BadImport(NotificationError, errors.InvalidInput):
    code = "bad_import"


@dataclass(frozen=True)
class DirectoryChange:
    """What a directory command did."""

    listed: int
    unlisted: int
    delivered: int


def parse(body: bytes, content_type: str) -> list[Recipient]:
    """Recipients from a CSV (header: jurisdiction_code,role,user_id,name,address) or a JSON list."""
    try:
        if "csv" in content_type:
            items = list(guarded(csv.DictReader(io.StringIO(decode_text(body, what="接收人 CSV"), newline=""))))
        else:
            data = parse_json(body)
            items = data.get("recipients") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise BadImport("导入内容应为接收人列表", rule="import_shape")
        out = []
        for n, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                raise BadImport(f"第{n}条不是对象", rule="import_shape")
            values = {k: (str(item.get(k) or "").strip() or None) for k in FIELDS}
            for key, value in values.items():
                problem = value and (text_problem(value) if key == "address" else id_problem(value))
                if problem:
                    raise BadImport(f"第{n}条 {key} {problem}", rule="import_value")
            if not values["jurisdiction_code"] or not values["role"] or not values["user_id"] or not values["name"]:
                raise BadImport(f"第{n}条缺少行政区划代码、角色、用户或姓名", rule="import_required")
            if len(values["user_id"]) > 128 or len(values["name"]) > 100 or len(values["address"] or "") > 500:
                raise BadImport(f"第{n}条字段过长", rule="import_length")
            check_entry(values["role"], values["jurisdiction_code"])
            out.append(Recipient(values["role"], values["jurisdiction_code"], values["user_id"], values["name"],
                                 values["address"]))
        return out
    except (UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise BadImport(f"无法解析导入内容：{exc}", rule="import_format") from exc


class DirectoryService:
    """Changes the recipients directory through the event store and the dispatcher."""

    def __init__(self, dispatcher: Dispatcher, attempts: int = 5) -> None:
        self.dispatcher = dispatcher
        self.app = dispatcher.app
        self.attempts = attempts

    def import_recipients(self, recipients: list[Recipient], meta: dict[str, Any]) -> DirectoryChange:
        """Lists (adds or updates) recipients, then delivers the notifications that were waiting for them."""
        return self._saved(recipients, [], meta)

    def remove(self, role: str, code: str, user_id: str, meta: dict[str, Any]) -> DirectoryChange:
        """Unlists one recipient (future notifications go to the next nearest level)."""
        return self._saved([], [(role, code, user_id)], meta)

    def _saved(self, listing: list[Recipient], unlisting: list[tuple[str, str, str]],
               meta: dict[str, Any]) -> DirectoryChange:
        """One save per command; a concurrent change of the same directory starts it again from a fresh load."""
        change, _ = save_with_retry(lambda: self._change(listing, unlisting, meta),
                                    lambda done: self.app.save(*done[1]), attempts=self.attempts)
        return change

    def _change(self, listing: list[Recipient], unlisting: list[tuple[str, str, str]],
                meta: dict[str, Any]) -> tuple[DirectoryChange, list[Any]]:
        dispatch = self.dispatcher.begin(meta)
        directories: dict[str, CountyDirectory] = {}

        def directory(code: str) -> CountyDirectory:
            county = county_of(code)
            if county not in directories:
                directories[county] = self.app.directory(county) or CountyDirectory(county_code=county, meta=meta)
            return directories[county]

        listed = sum(directory(r.jurisdiction_code).list_recipient(r, meta) for r in listing)
        unlisted = sum(directory(code).unlist(role, code, user_id, meta) for role, code, user_id in unlisting)
        delivered = 0
        for d in directories.values():
            dispatch.use_directory(d)
            delivered += dispatch.release(d)
        return DirectoryChange(listed, unlisted, delivered), dispatch.aggregates()
