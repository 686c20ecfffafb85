"""Keyed pseudonyms: the ids that leave the registry, and blind indexes, are HMACs under a secret key.

A child's `student_id` (and its population record's id) used to be `uuid5(NAMESPACE, "student:" + id_number)`:
anyone holding a published `student_id` and the masked ID number could try the ~10^4 hidden birth dates and
get the full number back. An HMAC-SHA256 under `BAOXUE_PSEUDONYM_KEY` keeps the ids deterministic (the same
child enrolled twice, or reported by two departments, is the same id: imports stay idempotent and link by ID
number) while nobody without the key can compute or test them. The key is process configuration set once by
the bootstrap (`configure`); the domain stays free of I/O.
"""

from __future__ import annotations

import hmac
import uuid

DEV_PSEUDONYM_KEY = "baoxue-development-pseudonym-key-not-for-production"  # noqa: S105

_key: bytes = DEV_PSEUDONYM_KEY.encode()


def configure(secret: str) -> None:
    """Sets the process's pseudonym key (from settings); every registry process of a deployment shares it."""
    global _key
    if len(secret) < 16:
        raise ValueError("BAOXUE_PSEUDONYM_KEY must be at least 16 characters")
    _key = secret.encode()


def digest(label: str, value: str) -> bytes:
    """HMAC-SHA256 of a labelled value under the pseudonym key (labels keep uses apart)."""
    return hmac.digest(_key, f"{label}\x00{value}".encode(), "sha256")  # one-shot C HMAC (imports hash millions)


def keyed_uuid(label: str, value: str) -> uuid.UUID:
    """A stable UUID (random-looking, version-4 layout) that only the key's holder can compute."""
    return uuid.UUID(bytes=digest(label, value)[:16], version=4)


def blind(label: str, value: str) -> str:
    """A blind index of a personal value (exact-match lookups without the clear value)."""
    return digest(label, value).hex()[:32]
