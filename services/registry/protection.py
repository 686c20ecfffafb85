"""Wires the registry's personal-data protection from settings: pseudonym key, KEK provider, data keys."""

from __future__ import annotations

from typing import Any

from services.registry import pseudonyms
from services.registry.keys import KeyFileProvider, KeyProvider, PostgresDataKeys
from services.registry.sealing import Sealer


def key_provider(settings: Any) -> KeyProvider:
    """The KEK provider of the deployment: the key file, else (development/test) the development KEK."""
    if settings.key_file is not None:
        return KeyFileProvider.from_file(settings.key_file)
    return KeyFileProvider.development()


def protect(app: Any, settings: Any, db: Any) -> Any:
    """Configures the pseudonym key and stores the app's data keys in its schema (before anything is saved)."""
    pseudonyms.configure(settings.pseudonym_key)
    app.mapper.sealer = Sealer(PostgresDataKeys(db, key_provider(settings), cache_s=settings.dek_cache_s))
    return app
