"""What the registry's read model and history keep instead of personal values: blind indexes and masks."""

from __future__ import annotations

from typing import Any

from services.registry.domain.registration import mask_name
from services.registry.domain.pseudonyms import blind


def name_blind(name: str | None) -> str | None:
    """The blind index of a name (exact search by officials without a clear name column)."""
    return blind("name", "".join(name.split())) if name else None


BLINDED = ("name", "guardian_name", "guardian_phone")


def index_record(record: dict[str, Any]) -> dict[str, Any]:
    """A source record as the read model keeps it: names and phones as blind indexes (re-imports compare
    them), the masked name for display; the birth date stays (the census needs it)."""
    attrs = dict(record["attributes"])
    if attrs.get("name"):
        attrs["name_masked"] = mask_name(attrs["name"])
    for a in BLINDED:
        if attrs.get(a):
            attrs[a] = blind(a, "".join(str(attrs[a]).split()) if a == "name" else str(attrs[a]))
    return {**record, "attributes": attrs}


def scrub_erased(row: dict[str, Any]) -> dict[str, Any]:
    """What the read model keeps of an erased child: ids, codes, status, counts; nothing personal."""
    return {**row, "name_masked": "*", "name_blind": None, **({"id_number_masked": None, "birth_date": None,
            "records": {}, "flags": [], "status": "erased"} if "records" in row or "id_number_masked" in row else {})}


def mask_birth_date(value: Any) -> str | None:
    """2015-08-07 -> 2015-**-** (the year says the school age; month and day are the ID number's hidden digits)."""
    return None if value in (None, "") else f"{str(value)[:4]}-**-**"
