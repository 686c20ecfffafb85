"""Every projected event type and its reducer; the live consumer, the rebuild and time travel all call ``project``."""

from __future__ import annotations

from typing import Callable

from services.reporting.adapters import project_attendance, project_casework, project_registry
from services.reporting.adapters.inbox import Event
from services.reporting.adapters.stores import Store

Reducer = Callable[[Store, Event], None]
HANDLERS: dict[type, Reducer] = {
    **project_registry.HANDLERS, **project_attendance.HANDLERS, **project_casework.HANDLERS,
}


def advance(store: Store, e: Event) -> None:
    """The topic position the figures reflect (never backwards)."""
    row = store.get("applied_positions", (e.topic,))
    if row is None or row["sequence"] < e.sequence:
        store.put("applied_positions", {"topic": e.topic, "sequence": e.sequence, "event_time": e.time})


def reduce(store: Store, e: Event) -> None:
    """Applies one event's effect on the read models, without moving the topic's position (a batch moves it once,
    to its latest event of the topic: ``advance`` keeps the highest sequence, so that is the same row)."""
    reducer = HANDLERS.get(type(e.payload))
    if reducer is not None:
        reducer(store, e)


def project(store: Store, e: Event) -> None:
    """Applies one event's effect on the read models and moves the topic's position."""
    reduce(store, e)
    advance(store, e)
