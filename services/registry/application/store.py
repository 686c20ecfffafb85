"""The registry's event store: the eventsourcing application (schema ``registry``) with personal fields sealed."""

from __future__ import annotations

from typing import Any

from services.registry.adapters.keys import DataKeys, MemoryDataKeys
from services.registry.adapters.sealing import Sealer, SealingMapper
from services.registry.adapters.topics import register_legacy_topics
from services.runtime.eventstore import ServiceApplication


class RegistryApp(ServiceApplication):
    """Loads and saves the registry's aggregates; the data keys come in through the constructor (in memory unless
    the bootstrap hands in the PostgreSQL ones)."""

    name = "Registry"

    def __init__(self, env: Any = None, data_keys: DataKeys | None = None) -> None:
        register_legacy_topics()
        self._data_keys = data_keys if data_keys is not None else MemoryDataKeys()
        super().__init__(env)

    def construct_mapper(self) -> SealingMapper:  # type: ignore[override]
        """The library's mapper with children's personal fields sealed under per-child data keys."""
        base = super().construct_mapper()
        return SealingMapper(transcoder=base.transcoder, compressor=base.compressor, cipher=base.cipher,
                             sealer=Sealer(self._data_keys))

    @property
    def data_keys(self) -> DataKeys:
        return self._data_keys
