"""The registry's use cases composed over one event store and one read model: what the entrypoints are handed."""

from __future__ import annotations

from services.registry.adapters.readmodel.memory import MemoryIndex
from services.registry.application.comparisons import Comparisons
from services.registry.application.divisions import Divisions
from services.registry.application.erasure import Erasures
from services.registry.application.imports import Imports
from services.registry.application.lifecycle import Lifecycle
from services.registry.application.ports import KeyShredder, ReadModel
from services.registry.application.population import Population
from services.registry.application.queries import Queries
from services.registry.application.registration import Registration
from services.registry.application.store import RegistryApp


class Registry:
    """Each use case built once with its collaborators (store, read model, data keys); the read model defaults
    to the in-memory one (tests, tools), the data keys to the store's."""

    def __init__(self, store: RegistryApp, index: ReadModel | None = None,
                 data_keys: KeyShredder | None = None) -> None:
        self.store = store
        self.index: ReadModel = index if index is not None else MemoryIndex()
        self.registration = Registration(store, self.index)
        self.lifecycle = Lifecycle(store, self.index)
        self.population = Population(store, self.index)
        self.imports = Imports(store, self.index, self.registration)
        self.comparisons = Comparisons(store, self.index)
        self.divisions = Divisions(store, self.index)
        self.queries = Queries(store, self.index)
        self.erasure = Erasures(store, self.index, data_keys if data_keys is not None else store.data_keys)
