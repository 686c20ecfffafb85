"""Base class and registry for versioned event contracts.

A contract is never edited in a breaking way: a change that breaks readers becomes a new class
with the next version suffix (``CaseOpenedV2``), and both are published side by side until
every consumer has moved.
"""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

_VERSIONED = re.compile(r"^(?P<name>[A-Z][A-Za-z]+)V(?P<version>\d+)$")
_REGISTRY: dict[str, type["Contract"]] = {}


class Contract(BaseModel):
    """A public event payload; subclasses name themselves ``<EventName>V<n>``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: ClassVar[str]
    event_name: ClassVar[str]
    version: ClassVar[int]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: object) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        match = _VERSIONED.match(cls.__name__)
        if match is None:
            raise TypeError(f"contract {cls.__name__} must be named <EventName>V<n>")
        if not getattr(cls, "topic", None):
            raise TypeError(f"contract {cls.__name__} must declare its topic")
        cls.event_name = match["name"]
        cls.version = int(match["version"])
        ce_type = cls.ce_type()
        if ce_type in _REGISTRY and _REGISTRY[ce_type] is not cls:
            raise TypeError(f"duplicate contract type {ce_type}")
        _REGISTRY[ce_type] = cls

    @classmethod
    def ce_type(cls) -> str:
        """The CloudEvents ``type`` attribute, e.g. ``cn.baoxue.casework.CaseOpened.v1``."""
        service = cls.topic.split(".")[1]
        return f"cn.baoxue.{service}.{cls.event_name}.v{cls.version}"


def registered() -> dict[str, type[Contract]]:
    """The contracts whose classes have been defined so far, by CloudEvents type (``contracts.catalog.registry``
    imports them all first)."""
    return dict(_REGISTRY)
