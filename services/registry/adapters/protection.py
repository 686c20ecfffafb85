"""The registry's personal-data protection from settings: the KEK provider and the data keys in its schema."""

from __future__ import annotations

from typing import Any

from services.registry.adapters.keys import KeyFileProvider, KeyProvider, PostgresDataKeys


def key_provider(settings: Any) -> KeyProvider:
    """The KEK provider of the deployment: the key file, else (development/test) the development KEK."""
    if settings.key_file is not None:
        return KeyFileProvider.from_file(settings.key_file)
    return KeyFileProvider.development()


def postgres_data_keys(settings: Any, db: Any) -> PostgresDataKeys:
    """The per-child data keys, wrapped by the deployment's KEK, in the registry schema."""
    return PostgresDataKeys(db, key_provider(settings), cache_s=settings.dek_cache_s)
