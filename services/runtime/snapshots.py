"""Snapshots as a cache of an aggregate's state: taken every N events, read only while the class that wrote them is
unchanged, and never the record (the events are; a snapshot that cannot be read is ignored and the events replayed).

Written by ``ServiceApplication`` after a save (``snapshot_intervals``), read by ``BatchRepository`` (``get`` and the
set-based ``get_many``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import inspect
from functools import cache
from typing import Any

from eventsourcing.domain import Snapshot

FINGERPRINT_KEY = "__snapshot_of__"
ITEMS_KEY = "__items__"  # a dict whose keys JSON cannot hold (dates), stored as [[key, value], ...]


class StaleSnapshot(Exception):
    """The snapshot was written by another version of the aggregate class: replay the events instead."""


@cache
def class_fingerprint(cls: type) -> str | None:
    """A digest of the aggregate class's source (and its project bases) and the eventsourcing version: any change to
    how the class builds its state gives another digest. None when the source cannot be read (no snapshots then)."""
    digest = hashlib.sha256(importlib.metadata.version("eventsourcing").encode())
    for klass in cls.__mro__:
        if klass.__module__.split(".")[0] in ("eventsourcing", "builtins", "typing", "abc"):
            continue
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            return None
        digest.update(f"{klass.__module__}:{klass.__qualname__}\n{source}".encode())
    return digest.hexdigest()[:32]


def _to_json(value: Any) -> Any:
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and not (len(value) == 1 and ITEMS_KEY in value):
            return {k: _to_json(v) for k, v in value.items()}
        return {ITEMS_KEY: [[k, _to_json(v)] for k, v in value.items()]}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and ITEMS_KEY in value:
            return {k: _from_json(v) for k, v in value[ITEMS_KEY]}
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


class ServiceSnapshot(Snapshot):
    """The library's snapshot, plus the writing class's fingerprint and dicts keyed by dates (JSON keys are text)."""

    @classmethod
    def take(cls, aggregate: Any) -> "ServiceSnapshot":
        fingerprint = class_fingerprint(type(aggregate))
        if fingerprint is None:
            raise StaleSnapshot(f"no source for {type(aggregate).__qualname__}: not snapshotted")
        snapshot = super().take(aggregate)
        state = _to_json(snapshot.state)
        state[FINGERPRINT_KEY] = fingerprint
        return dataclasses.replace(snapshot, state=state)

    def mutate(self, _: None) -> Any:
        """The aggregate as it was at the snapshot's version; ``StaleSnapshot`` if another class version wrote it."""
        state = dict(self.state)
        written_by = state.pop(FINGERPRINT_KEY, None)
        cls = self._aggregate_class()
        if written_by is None or written_by != class_fingerprint(cls):
            raise StaleSnapshot(f"snapshot of {self.topic} v{self.originator_version} written by another class version")
        return Snapshot.mutate(dataclasses.replace(self, state=_from_json(state)), None)

    def _aggregate_class(self) -> type:
        from eventsourcing.utils import resolve_topic

        return resolve_topic(self.topic)
