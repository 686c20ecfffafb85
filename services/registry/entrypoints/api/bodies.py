"""The request-body base of the registry's routes (strict: unknown fields refused, strings stripped)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

CODE = r"^[0-9]{2}([0-9]{2}([0-9]{2}([0-9]{3})?)?)?$"  # a jurisdiction code: 2, 4, 6 or 9 digits


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

