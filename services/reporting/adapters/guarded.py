"""One write rule for rows touched by events of several aggregates (so arriving in any partition order):
facts fill what is missing, state follows the event with the highest sequence. Any order gives the same row."""

from __future__ import annotations

from typing import Any

from services.reporting.adapters.inbox import Event
from services.reporting.adapters.projections import BY_NAME
from services.reporting.adapters.stores import Store, complete


def write(store: Store, table: str, key: dict[str, Any], e: Event, facts: dict[str, Any],
          state: dict[str, Any], defaults: dict[str, Any]) -> None:
    t = BY_NAME[table]
    row = store.get(table, tuple(key[k] for k in t.key))
    if row is None:
        row = complete(t, {**defaults, **key, "last_sequence": 0})
    updated = dict(row)
    for name, value in facts.items():
        if updated.get(name) is None:
            updated[name] = value
    if row["last_sequence"] < e.sequence:
        updated.update(state)
        updated["last_sequence"] = e.sequence
    if updated != row:
        store.put(table, updated)
