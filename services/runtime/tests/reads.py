"""Counting what tests read from an event store (also used by the services' tests of their consumers' batches)."""

from __future__ import annotations

from typing import Any


def count_reads(app: Any, monkeypatch: Any) -> dict[str, int]:
    """How often ``app``'s store is read from now on: one aggregate's events (``one``, what the repository does for
    each ``get``), many aggregates' at once (``many``, a batch's prefetch, from snapshots or not)."""
    counted = {"one": 0, "many": 0}
    for name, key in (("select_events", "one"), ("select_events_of", "many"), ("select_snapshots_and_events_of", "many")):
        def counting(*args: Any, _read: Any = getattr(app.recorder, name), _key: str = key, **kwargs: Any) -> Any:
            counted[_key] += 1
            return _read(*args, **kwargs)

        monkeypatch.setattr(app.recorder, name, counting)
    return counted


def record_gets(app: Any, monkeypatch: Any) -> list[Any]:
    """The ids ``app``'s repository is asked for from now on, in order (clear the list between steps)."""
    asked: list[Any] = []
    get = app.repository.get

    def recording(aggregate_id: Any, **kwargs: Any) -> Any:
        asked.append(aggregate_id)
        return get(aggregate_id, **kwargs)

    monkeypatch.setattr(app.repository, "get", recording)
    return asked
