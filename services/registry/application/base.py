"""What every registry use case holds: the event store and the read model, given in the constructor."""

from __future__ import annotations

from typing import Any, Iterable, TypeVar
from uuid import UUID

from services.registry.application.ports import ReadModel
from services.registry.application.store import RegistryApp
from services.registry.domain.errors import NotFound
from services.runtime.aggregates import load, require

A = TypeVar("A")
CHUNK = 20_000


class UseCase:
    """Loads from the store, reads the read model, saves to the store."""

    def __init__(self, store: RegistryApp, index: ReadModel) -> None:
        self.store = store
        self.index = index

    def _get(self, cls: type[A], aggregate_id: UUID) -> A | None:
        return load(self.store.repository, cls, aggregate_id)

    def _load(self, cls: type[A], aggregate_id: UUID, what: str) -> A:
        """The aggregate, or NotFound naming what is missing (``<class>_exists``)."""
        return require(self.store.repository, cls, aggregate_id,
                       lambda: NotFound(f"{what}不存在", rule=f"{cls.__name__.lower()}_exists"))

    def _existing(self, table: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The read model's rows of these ids, read in chunks."""
        found: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(ids):
            found.update(self.index.get_many(table, chunk))
        return found


def _chunks(items: list[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
