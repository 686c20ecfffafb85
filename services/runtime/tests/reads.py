"""Counting what tests read from an event store (also used by the services' tests of their consumers' batches)."""

from __future__ import annotations

from typing import Any

from services.runtime.batchrows import RowRef


def count_reads(app: Any, monkeypatch: Any) -> dict[str, int]:
    """How often ``app``'s store is read from now on: one aggregate's events (``one``, what the repository does for
    each ``get``), many aggregates' at once (``many``, a batch's prefetch, from snapshots or not)."""
    counted = {"one": 0, "many": 0}
    for name, key in (("select_events", "one"), ("select_events_of", "many"), ("select_snapshots_and_events_of", "many")):
        def counting(*args: Any, _read: Any = getattr(app.recorder, name), _key: str = key, **kwargs: Any) -> Any:
            counted[_key] += 1
            return _read(*args, **kwargs)

        monkeypatch.setattr(app.recorder, name, counting)
    for table in getattr(app, "lookups", ()):  # a lookup table's queries (``batchrows``), many rows at once
        counted.setdefault("rows", 0)

        def selecting(*args: Any, _select: Any = table.select, **kwargs: Any) -> Any:
            counted["rows"] += 1
            return _select(*args, **kwargs)

        monkeypatch.setattr(table, "select", selecting)
    return counted


def record_gets(app: Any, monkeypatch: Any) -> list[Any]:
    """The ids ``app``'s repository is asked for from now on, in order (clear the list between steps)."""
    asked: list[Any] = []
    get = app.repository.get

    def recording(aggregate_id: Any, **kwargs: Any) -> Any:
        asked.append(aggregate_id)
        return get(aggregate_id, **kwargs)

    monkeypatch.setattr(app.repository, "get", recording)
    for table in getattr(app, "lookups", ()):  # and the rows of its lookup tables, as ``loads`` names them
        def row(key: Any, _get: Any = table.get, _table: str = table.table) -> Any:
            asked.append(RowRef(_table, key))
            return _get(key)

        monkeypatch.setattr(table, "get", row)
    return asked
