"""Load an aggregate by id and save with retries on a concurrent write: what every service's use cases repeat."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from services.runtime.errors import Conflict

A = TypeVar("A")
R = TypeVar("R")
SAVE_ATTEMPTS = 3


def load(repository: Any, cls: type[A], aggregate_id: UUID, *, version: int | None = None) -> A | None:
    """The aggregate of this id if it exists and is a ``cls``, else None (a wrong type is as good as missing)."""
    try:
        aggregate = repository.get(aggregate_id, version=version)
    except AggregateNotFoundError:
        return None
    return aggregate if isinstance(aggregate, cls) else None


def require(repository: Any, cls: type[A], aggregate_id: UUID, missing: Callable[[], Exception], *,
            version: int | None = None) -> A:
    """The aggregate of this id, or the error ``missing()`` builds (a service's NotFound naming what is missing)."""
    aggregate = load(repository, cls, aggregate_id, version=version)
    if aggregate is None:
        raise missing()
    return aggregate


def save_with_retry(attempt: Callable[[], R], save: Callable[[R], Any], *, attempts: int = SAVE_ATTEMPTS,
                    conflict: Callable[[], Exception] | None = None) -> R:
    """Load, act, save: a concurrent write (a version conflict at save) makes the whole attempt start again from
    a fresh load; after the last attempt the caller gets ``conflict()`` (a 409 by default)."""
    for n in range(1, attempts + 1):
        result = attempt()
        try:
            save(result)
        except IntegrityError:
            if n == attempts:
                raise (conflict() if conflict else Conflict("数据正被同时修改，请稍后重试", rule="concurrent_change")) from None
            continue
        return result
    raise AssertionError("unreachable")
