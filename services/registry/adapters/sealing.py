"""Field-level encryption of children's personal data in the registry's events, with per-aggregate DEKs.

The events of a `Student` (学籍) or `Child` (population record), and their snapshots, carry the ID number,
name, birth date, guardian's name and phone. `SealingMapper` replaces each such value, wherever it sits in
the event state (top level, a source record's attributes, merged records), by `pii1:<base64 nonce+AES-GCM>`
under that aggregate's DEK (`keys.DataKeys`), bound to the aggregate id. Everything else (codes, statuses,
dates of lifecycle events, actors) stays readable, so read models, comparisons, counts and the relay work as
before. When a child is erased its DEKs are gone: the sealed values read back as blanks (`REDACTED`), the
aggregate still replays, and the personal data is unreadable in every copy of the events.
"""

from __future__ import annotations

import base64
import os
import threading
from datetime import date
from typing import Any, Collection, Sequence
from uuid import UUID

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic

from services.registry.domain.errors import Conflict
from services.registry.adapters.keys import DataKeys, SubjectErased
from services.registry.adapters.topics import prefixes_of
from services.registry.domain.comparisons import Finding
from services.registry.domain.population import Child
from services.registry.domain.registration import Student, student_id_for

PII_KEYS = frozenset({"id_number", "other_id_number", "name", "birth_date", "guardian_name", "guardian_phone",
                      "name_masked", "id_number_masked"})
SEALED_PREFIXES = prefixes_of(Student, Child, Finding)  # today's topics and those stored before the rooms
CHILD_PREFIXES = prefixes_of(Child)
PREFIX = "pii1:"
_MARK = PREFIX.encode()  # in the stored JSON of every state with a sealed value (JSON never escapes these)
ERASED_ID_NUMBER = "000000197001010000"  # what an erased ID number reads as (outside every jurisdiction, not of age)
REDACTED: dict[str, Any] = {"id_number": ERASED_ID_NUMBER, "other_id_number": ERASED_ID_NUMBER, "birth_date": None,
                            "name": "", "guardian_name": "", "guardian_phone": "", "name_masked": "*",
                            "id_number_masked": "*"}


def seals(topic: str, state: dict[str, Any] | None = None) -> bool:
    """True for the events (and snapshots) of the aggregates holding a child's personal data."""
    if topic.startswith(SEALED_PREFIXES):
        return True
    inner = (state or {}).get("topic")
    return isinstance(inner, str) and inner.startswith(SEALED_PREFIXES)


def _pack(value: Any) -> bytes:
    return orjson.dumps(["d", value.isoformat()] if isinstance(value, date) else ["s", value])


def _unpack(data: bytes) -> Any:
    kind, value = orjson.loads(data)
    return date.fromisoformat(value) if kind == "d" else value


class Sealer:
    """Seals and opens the personal values of one aggregate's event state with its DEK."""

    def __init__(self, keys: DataKeys) -> None:
        self.keys = keys
        self.pending: list[tuple[str, str]] = []
        self._pending_keys: dict[str, bytes] = {}
        self._absent: set[str] = set()
        self._lock = threading.Lock()

    def subject_of(self, originator_id: UUID, topic: str, state: dict[str, Any]) -> str:
        """The child a new aggregate's DEK belongs to: its student_id (erasure deletes the child's DEKs by it)."""
        if topic.startswith(CHILD_PREFIXES) and "id_number" in state:
            return str(student_id_for(state["id_number"]))
        if isinstance(state.get("student_id"), str):  # a finding about the child
            return state["student_id"]
        return str(originator_id)

    def prefetch(self, originator_ids: list[str], chunk: int = 5000, for_write: bool = False) -> None:
        """Reads the DEKs of many aggregates in a few queries (a catch-up batch, a bulk import); for a bulk
        write, those without one are remembered as new (the writer then creates theirs without asking again)."""
        for i in range(0, len(originator_ids), chunk):
            part = originator_ids[i:i + chunk]
            found = self.keys.get_many(part)
            if for_write:
                with self._lock:
                    self._absent.update(o for o in part if found.get(o) is None)

    def forget_absent(self) -> None:
        with self._lock:
            self._absent.clear()

    def _dek_for_write(self, originator_id: UUID, topic: str, state: dict[str, Any], defer: bool) -> bytes:
        oid = str(originator_id)
        with self._lock:
            dek = self._pending_keys.get(oid)
            known_new = defer and oid in self._absent
            self._absent.discard(oid)
        dek = dek or (None if known_new else self.keys.get(oid))
        if dek is not None:
            return dek
        subject = self.subject_of(originator_id, topic, state)
        if not defer:
            return self.keys.create_many([(oid, subject)])[oid]
        # a bulk write's new aggregates: their keys are stored together (`flush_pending`) before its events
        dek = AESGCM.generate_key(bit_length=256)
        with self._lock:
            self._pending_keys[oid] = dek
            self.pending.append((oid, subject))
        return dek

    def flush_pending(self) -> None:
        """Stores the DEKs created for a bulk batch (called before its events are written)."""
        with self._lock:
            pairs, self.pending = self.pending, []
            deks = {oid: self._pending_keys.pop(oid) for oid, _ in pairs}
        if not pairs:
            return
        if self.keys._erased({s for _, s in pairs} | {o for o, _ in pairs}):
            raise SubjectErased("该儿童的个人信息已依法删除，不能再记录其个人信息", rule="subject_erased")
        rows = []
        for oid, subject in pairs:
            kek_id, wrapped = self.keys.provider.wrap(deks[oid])
            rows.append((oid, subject, kek_id, wrapped))
        self.keys._insert(rows)
        stored = self.keys.get_many(list(deks))
        if any(stored.get(oid) != dek for oid, dek in deks.items()):  # a concurrent writer's key won: do not
            raise Conflict("同一儿童正被并发导入，请重试 (concurrent import, retry)", rule="concurrent_import")

    def seal(self, originator_id: UUID, topic: str, state: dict[str, Any], defer: bool = False) -> dict[str, Any]:
        """A copy of the state with every personal value sealed under the aggregate's DEK (created if new)."""
        if not _has_pii(state):
            return state
        aead = AESGCM(self._dek_for_write(originator_id, topic, state, defer))
        aad = originator_id.bytes

        def walk(obj: Any) -> Any:
            if isinstance(obj, dict):
                return {k: (_seal_value(aead, aad, v) if k in PII_KEYS and v is not None and v != "" else walk(v))
                        for k, v in obj.items()}
            if isinstance(obj, list):
                return [walk(v) for v in obj]
            return obj

        return walk(state)

    def open(self, originator_id: UUID, state: dict[str, Any]) -> None:
        """Opens sealed values in place; an erased aggregate's values become `REDACTED` blanks."""
        oid = str(originator_id)
        _open_in(state, originator_id.bytes, _Cipher(lambda: self.keys.get(oid)), None)

    def open_many(self, states: list[tuple[str, UUID, dict[str, Any]]], only: Collection[str] | None = None) -> None:
        """`open` for a batch of (originator id as text, as UUID, event state): their keys read in one call
        (`DataKeys.get_many`), one cipher per aggregate. With `only` (names of personal values), just those are
        opened: the others stay sealed, for a reader that needs a few (the relay publishes masks of the name and ID
        number, never the rest)."""
        keys = self.keys.get_many(list({oid for oid, _, _ in states}))
        wanted = None if only is None else frozenset(only)
        open_in = _open_in if wanted is None else _open_only
        for oid, originator_id, state in states:
            dek = keys.get(oid)
            open_in(state, originator_id.bytes, _Cipher(lambda dek=dek: dek), wanted)  # type: ignore[misc, operator]


class _Cipher:
    """One aggregate's AES-GCM cipher, its key looked up on first use (None: no key, the values read as blanks)."""

    __slots__ = ("_find", "_aead", "_looked")

    def __init__(self, find: Any) -> None:
        self._find, self._aead, self._looked = find, None, False

    def get(self) -> AESGCM | None:
        if not self._looked:
            dek = self._find()
            self._aead, self._looked = (AESGCM(dek) if dek else None), True
        return self._aead


def _open_in(obj: Any, aad: bytes, cipher: _Cipher, only: frozenset[str] | None) -> None:
    """Opens the sealed strings in a (nested) state in place: every one, or those under a name in `only`."""
    for k, v in (obj.items() if type(obj) is dict else enumerate(obj)):  # values replaced, never added: safe
        if isinstance(v, str):
            if v.startswith(PREFIX) and (only is None or k in only):
                aead = cipher.get()
                obj[k] = _open_value(aead, aad, v) if aead is not None else REDACTED.get(k, "")  # type: ignore[index]
        elif isinstance(v, (dict, list)):
            _open_in(v, aad, cipher, only)


def _open_only(obj: Any, aad: bytes, cipher: _Cipher, only: frozenset[str]) -> None:
    """`_open_in` with `only`, looking up just those names in each object: nested objects first, then the object's
    own values (opened values are not walked, as in `_open_in`)."""
    if isinstance(obj, dict):
        for v in obj.values():
            if isinstance(v, (dict, list)):
                _open_only(v, aad, cipher, only)
        for k in only.intersection(obj):
            v = obj[k]
            if isinstance(v, str) and v.startswith(PREFIX):
                aead = cipher.get()
                obj[k] = _open_value(aead, aad, v) if aead is not None else REDACTED.get(k, "")
    else:
        for v in obj:
            if isinstance(v, (dict, list)):
                _open_only(v, aad, cipher, only)


def _has_pii(obj: Any) -> bool:
    if isinstance(obj, dict):
        return any((k in PII_KEYS and v not in (None, "")) or _has_pii(v) for k, v in obj.items())
    if isinstance(obj, list):
        return any(_has_pii(v) for v in obj)
    return False


def _seal_value(aead: AESGCM, aad: bytes, value: Any) -> str:
    nonce = os.urandom(12)
    return PREFIX + base64.b64encode(nonce + aead.encrypt(nonce, _pack(value), aad)).decode()


def _open_value(aead: AESGCM, aad: bytes, text: str) -> Any:
    raw = base64.b64decode(text[len(PREFIX):])
    return _unpack(aead.decrypt(raw[:12], raw[12:], aad))


class SealingMapper(Mapper):
    """The library's mapper, sealing personal fields of children's events before they are encoded."""

    def __init__(self, *args: Any, sealer: Sealer | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sealer = sealer

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        topic = get_topic(domain_event.__class__)
        if self.sealer is None or not seals(topic, vars(domain_event)):
            return super().to_stored_event(domain_event)
        event_state = dict(vars(domain_event))
        originator_id = event_state.pop("originator_id")
        originator_version = event_state.pop("originator_version")
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            event_state["class_version"] = class_version
        event_state = self.sealer.seal(originator_id, topic, event_state)
        stored_state = self.transcoder.encode(event_state)
        if self.compressor:
            stored_state = self.compressor.compress(stored_state)
        if self.cipher:
            stored_state = self.cipher.encrypt(stored_state)
        return StoredEvent(originator_id=originator_id, originator_version=originator_version, topic=topic,
                           state=stored_state)

    def prefetch_stored(self, stored_events: Any) -> None:
        """Reads the data keys of a batch of stored events in one query (the relay, a catch-up)."""
        if self.sealer is not None:
            self.sealer.prefetch(list({str(e.originator_id) for e in stored_events if seals(e.topic)}))

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        domain_event = super().to_domain_event(stored_event)
        if self.sealer is not None and seals(stored_event.topic, vars(domain_event)):
            self.sealer.open(stored_event.originator_id, vars(domain_event))
        return domain_event

    def to_domain_events(self, stored_events: Sequence[StoredEvent], only: Collection[str] | None = None) -> list[Any]:
        """`to_domain_event` of a batch (the relay): the data keys read at once, one cipher per key; `only`: the
        personal values to open (`Sealer.open_many`), the others stay sealed in the events returned. A stored state
        without a sealed value (its JSON holds no `pii1:`, readable when there is no cipher or compressor) needs no
        key."""
        decode = super().to_domain_event
        events = [decode(s) for s in stored_events]
        if self.sealer is None:
            return events
        readable = self.cipher is None and self.compressor is None
        sealed = [(str(s.originator_id), s.originator_id, vars(e)) for s, e in zip(stored_events, events)
                  if (not readable or _MARK in s.state) and seals(s.topic, vars(e))]
        if sealed:
            self.sealer.open_many(sealed, only)
        return events
