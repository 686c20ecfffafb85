"""Key hierarchy for personal data at rest: per-child data keys (DEKs) wrapped by key-encryption keys (KEKs).

Each aggregate that holds a child's personal data (the registration, the population record) gets its own
random 256-bit DEK; its events' personal fields are sealed with it (`sealing.py`). DEKs are stored only
wrapped (AES-GCM under a KEK) in the registry's `data_keys` table, beside the child's `student_id` (the
subject), so erasing a child is deleting its rows: every copy of its personal data becomes unreadable. KEKs
come from a `KeyProvider` (wrap/unwrap): `KeyFileProvider` reads key ids and keys from a file; a KMS adapter
implements the same two calls. Rotation (`rewrap`) re-wraps every DEK under the provider's current KEK, after
which the old KEK can be removed from the file (or disabled in the KMS).
"""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod
import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.registry.domain.errors import Conflict

DEV_KEK_ID = "dev-1"
DEV_KEK = base64.b64encode(b"baoxue-development-kek-not-prod!").decode()  # 32 bytes; refused in production


class KeyProvider(Protocol):
    """Wraps and unwraps data keys under key-encryption keys it holds (a key file, a KMS)."""

    def current_kek_id(self) -> str: ...

    def wrap(self, dek: bytes) -> tuple[str, bytes]: ...

    def unwrap(self, kek_id: str, wrapped: bytes) -> bytes: ...


class KeyFileProvider:
    """KEKs from a JSON file `{"current": "k2", "keys": {"k1": "<base64 32 bytes>", "k2": "..."}}`."""

    def __init__(self, keys: dict[str, bytes], current: str) -> None:
        if current not in keys:
            raise ValueError(f"current KEK {current!r} is not in the key file")
        for kek_id, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"KEK {kek_id!r} must be 32 bytes (AES-256)")
        self._keys, self._current = dict(keys), current
        self._ciphers = {kek_id: AESGCM(key) for kek_id, key in keys.items()}  # stateless: shared by threads

    @classmethod
    def from_file(cls, path: Path) -> "KeyFileProvider":
        data = json.loads(Path(path).read_text())
        return cls({k: base64.b64decode(v) for k, v in data["keys"].items()}, data["current"])

    @classmethod
    def development(cls) -> "KeyFileProvider":
        return cls({DEV_KEK_ID: base64.b64decode(DEV_KEK)}, DEV_KEK_ID)

    @staticmethod
    def write(path: Path, keys: dict[str, bytes], current: str) -> None:
        """Writes a key file (mode 0600)."""
        text = json.dumps({"current": current, "keys": {k: base64.b64encode(v).decode() for k, v in keys.items()}})
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)

    def current_kek_id(self) -> str:
        return self._current

    def wrap(self, dek: bytes) -> tuple[str, bytes]:
        nonce = os.urandom(12)
        return self._current, nonce + self._ciphers[self._current].encrypt(nonce, dek, _aad(self._current))

    def unwrap(self, kek_id: str, wrapped: bytes) -> bytes:
        if kek_id not in self._keys:
            raise KeyError(f"KEK {kek_id!r} is not available (removed before its data keys were re-wrapped?)")
        return self._ciphers[kek_id].decrypt(wrapped[:12], wrapped[12:], _aad(kek_id))


def _aad(kek_id: str) -> bytes:
    return f"baoxue-dek:{kek_id}".encode()


class SubjectErased(Conflict):
    code = "subject_erased"


class DataKeys(ABC):
    """Per-aggregate DEKs with their subject; subclasses store the wrapped rows (memory, PostgreSQL)."""

    def __init__(self, provider: KeyProvider, cache_s: float = 60.0) -> None:
        self.provider = provider
        self.cache_s = cache_s
        self._cache: dict[str, tuple[float, bytes | None]] = {}
        self._lock = threading.Lock()

    # -- storage (subclasses) -----------------------------------------------------------------
    @abstractmethod
    def _select(self, originator_ids: list[str]) -> dict[str, tuple[str, bytes]]:
        ...

    @abstractmethod
    def _insert(self, rows: list[tuple[str, str, str, bytes]]) -> None:
        ...

    @abstractmethod
    def _erased(self, subjects: Iterable[str]) -> set[str]:
        ...

    @abstractmethod
    def _delete_subject(self, subject: str) -> list[str]:
        ...

    @abstractmethod
    def _all(self) -> list[tuple[str, str, bytes]]:
        ...

    @abstractmethod
    def _update(self, rows: list[tuple[str, str, bytes]]) -> None:
        ...

    # -- use --------------------------------------------------------------------------------
    def get(self, originator_id: str) -> bytes | None:
        """The aggregate's DEK, or None (never had one, or erased)."""
        return self.get_many([originator_id]).get(originator_id)

    def get_many(self, originator_ids: Iterable[str]) -> dict[str, bytes | None]:
        now = time.monotonic()
        out: dict[str, bytes | None] = {}
        missing = []
        with self._lock:
            for oid in originator_ids:
                hit = self._cache.get(oid)
                if hit is not None and now - hit[0] < self.cache_s:
                    out[oid] = hit[1]
                else:
                    missing.append(oid)
        if missing:
            found = self._select(missing)
            with self._lock:
                for oid in missing:
                    row = found.get(oid)
                    dek = self.provider.unwrap(*row) if row else None
                    if dek is not None:  # absent keys are not cached: another process may be creating them
                        self._cache[oid] = (now, dek)
                    out[oid] = dek
        return out

    def create_many(self, pairs: list[tuple[str, str]]) -> dict[str, bytes]:
        """New DEKs for (originator_id, subject) pairs; refused for an erased subject."""
        if not pairs:
            return {}
        erased = self._erased({s for _, s in pairs} | {o for o, _ in pairs})  # a child, or one of its aggregates
        if erased:
            raise SubjectErased("该儿童的个人信息已依法删除，不能再记录其个人信息", rule="subject_erased")
        deks, rows = {}, []
        for oid, subject in pairs:
            dek = AESGCM.generate_key(bit_length=256)
            kek_id, wrapped = self.provider.wrap(dek)
            rows.append((oid, subject, kek_id, wrapped))
            deks[oid] = dek
        self._insert(rows)
        stored = self._select([oid for oid, _ in pairs])  # a concurrent creator may have won: use its key
        now = time.monotonic()
        with self._lock:
            for oid in deks:
                deks[oid] = self.provider.unwrap(*stored[oid])
                self._cache[oid] = (now, deks[oid])
        return deks

    def erase(self, subject: str) -> int:
        """Destroys every DEK of a subject (crypto-shredding) and refuses new ones; returns how many."""
        gone = self._delete_subject(subject)
        with self._lock:
            for oid in gone:
                self._cache.pop(oid, None)
        return len(gone)

    def is_erased(self, subject: str) -> bool:
        return bool(self._erased([subject]))

    def rewrap(self, batch: int = 5000) -> int:
        """Re-wraps every DEK not under the current KEK (rotation), a batch per transaction; returns how many."""
        current = self.provider.current_kek_id()
        done, after = 0, ""
        while rows := self._stale(current, after, batch):
            updated = []
            for oid, kek_id, wrapped in rows:
                new_kek, new_wrapped = self.provider.wrap(self.provider.unwrap(kek_id, wrapped))
                updated.append((oid, new_kek, new_wrapped))
            self._update(updated)
            done, after = done + len(updated), rows[-1][0]
        return done

    def kek_ids_in_use(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, kek_id, _ in self._all():
            counts[kek_id] = counts.get(kek_id, 0) + 1
        return counts

    def _stale(self, current: str, after: str, limit: int) -> list[tuple[str, str, bytes]]:
        """DEKs not under `current`, in id order after `after` (subclasses may do it in SQL)."""
        return sorted(r for r in self._all() if r[1] != current and r[0] > after)[:limit]


class MemoryDataKeys(DataKeys):
    """In-memory store (tests, in-memory applications): the same rules as the PostgreSQL one."""

    def __init__(self, provider: KeyProvider | None = None, cache_s: float = 60.0) -> None:
        super().__init__(provider or KeyFileProvider.development(), cache_s)
        self.rows: dict[str, tuple[str, str, bytes]] = {}
        self.erased: set[str] = set()

    def _select(self, originator_ids: list[str]) -> dict[str, tuple[str, bytes]]:
        return {o: (self.rows[o][1], self.rows[o][2]) for o in originator_ids if o in self.rows}

    def _insert(self, rows: list[tuple[str, str, str, bytes]]) -> None:
        for oid, subject, kek_id, wrapped in rows:
            self.rows.setdefault(oid, (subject, kek_id, wrapped))

    def _erased(self, subjects: Iterable[str]) -> set[str]:
        return set(subjects) & self.erased

    def _delete_subject(self, subject: str) -> list[str]:
        gone = [o for o, row in self.rows.items() if row[0] == subject]
        for o in gone:
            del self.rows[o]
        self.erased.update([subject, *gone])
        return gone

    def _all(self) -> list[tuple[str, str, bytes]]:
        return [(o, k, w) for o, (_, k, w) in self.rows.items()]

    def _update(self, rows: list[tuple[str, str, bytes]]) -> None:
        for oid, kek_id, wrapped in rows:
            self.rows[oid] = (self.rows[oid][0], kek_id, wrapped)


DDL = """
CREATE TABLE IF NOT EXISTS data_keys (originator_id text PRIMARY KEY, subject_id text NOT NULL,
    kek_id text NOT NULL, wrapped bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS data_keys_subject ON data_keys (subject_id);
CREATE INDEX IF NOT EXISTS data_keys_kek ON data_keys (kek_id);
-- erased children (student_id) and their aggregates' ids: no new data key for them
CREATE TABLE IF NOT EXISTS erased_subjects (subject_id text PRIMARY KEY, erased_at timestamptz NOT NULL DEFAULT now());
"""


class PostgresDataKeys(DataKeys):
    """Wrapped DEKs in the registry's schema (`data_keys`), erased subjects in `erased_subjects`."""

    def __init__(self, db: Any, provider: KeyProvider, cache_s: float = 60.0) -> None:
        super().__init__(provider, cache_s)
        self.db = db
        db.ensure_tables(DDL)

    def _select(self, originator_ids: list[str]) -> dict[str, tuple[str, bytes]]:
        with self.db.transaction() as conn:
            rows = conn.execute("SELECT originator_id, kek_id, wrapped FROM data_keys WHERE originator_id = ANY(%s)",
                                (originator_ids,)).fetchall()
        return {r["originator_id"]: (r["kek_id"], bytes(r["wrapped"])) for r in rows}

    def _insert(self, rows: list[tuple[str, str, str, bytes]]) -> None:
        with self.db.transaction() as conn, conn.cursor() as cur:
            cur.executemany("INSERT INTO data_keys (originator_id, subject_id, kek_id, wrapped) VALUES (%s, %s, %s, %s) "
                            "ON CONFLICT (originator_id) DO NOTHING", rows)

    def _erased(self, subjects: Iterable[str]) -> set[str]:
        with self.db.transaction() as conn:
            rows = conn.execute("SELECT subject_id FROM erased_subjects WHERE subject_id = ANY(%s)",
                                (list(subjects),)).fetchall()
        return {r["subject_id"] for r in rows}

    def _delete_subject(self, subject: str) -> list[str]:
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO erased_subjects (subject_id) VALUES (%s) ON CONFLICT DO NOTHING", (subject,))
            rows = conn.execute("DELETE FROM data_keys WHERE subject_id = %s RETURNING originator_id",
                                (subject,)).fetchall()
            gone = [r["originator_id"] for r in rows]
            conn.cursor().executemany("INSERT INTO erased_subjects (subject_id) VALUES (%s) ON CONFLICT DO NOTHING",
                                      [(o,) for o in gone])
        return gone

    def _all(self) -> list[tuple[str, str, bytes]]:
        with self.db.transaction() as conn:
            rows = conn.execute("SELECT originator_id, kek_id, wrapped FROM data_keys").fetchall()
        return [(r["originator_id"], r["kek_id"], bytes(r["wrapped"])) for r in rows]

    def _stale(self, current: str, after: str, limit: int) -> list[tuple[str, str, bytes]]:
        with self.db.transaction() as conn:
            rows = conn.execute("SELECT originator_id, kek_id, wrapped FROM data_keys WHERE kek_id <> %s AND "
                                "originator_id > %s ORDER BY originator_id LIMIT %s", (current, after, limit)).fetchall()
        return [(r["originator_id"], r["kek_id"], bytes(r["wrapped"])) for r in rows]

    def kek_ids_in_use(self) -> dict[str, int]:
        with self.db.transaction() as conn:
            rows = conn.execute("SELECT kek_id, count(*) AS n FROM data_keys GROUP BY kek_id").fetchall()
        return {r["kek_id"]: r["n"] for r in rows}

    def _update(self, rows: list[tuple[str, str, bytes]]) -> None:
        with self.db.transaction() as conn, conn.cursor() as cur:
            cur.executemany("UPDATE data_keys SET kek_id = %s, wrapped = %s WHERE originator_id = %s",
                            [(k, w, o) for o, k, w in rows])
