"""Exports contract models to committed JSON Schema files and checks that none drifted.

A committed schema is the frozen record of a contract version. A model may only change in ways
that leave its schema the same apart from descriptions and titles; anything else is a new version.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from contracts.catalog import registry
from contracts.envelope import Envelope

SCHEMA_DIR = Path(__file__).parent / "schemas"
_COSMETIC = {"description", "title", "examples"}


def schema_of(model: type) -> dict[str, Any]:
    """The JSON Schema of a contract model (or the envelope)."""
    return model.model_json_schema(mode="serialization")  # type: ignore[attr-defined]


def file_name(ce_type: str) -> str:
    return f"{ce_type}.schema.json"


def _structural(schema: Any) -> Any:
    """The schema without cosmetic keys: what readers depend on."""
    if isinstance(schema, dict):
        return {k: _structural(v) for k, v in schema.items() if k not in _COSMETIC}
    if isinstance(schema, list):
        return [_structural(v) for v in schema]
    return schema


def _render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def expected_files() -> dict[str, dict[str, Any]]:
    """Every schema file the models produce, by file name."""
    files = {file_name(t): schema_of(m) for t, m in registry().items()}
    files["envelope.schema.json"] = schema_of(Envelope)
    return files


def check_schemas(directory: Path) -> list[str]:
    """Problems between committed schemas and models (empty when all agree)."""
    problems = []
    expected = expected_files()
    committed = {p.name: json.loads(p.read_text()) for p in directory.glob("*.schema.json")}
    for name, schema in expected.items():
        if name not in committed:
            problems.append(f"{name}: not exported (run `baoxue contracts export`)")
        elif _structural(committed[name]) != _structural(schema):
            problems.append(f"{name}: model changed incompatibly with the committed schema; add a new version instead")
        elif committed[name] != schema:
            problems.append(f"{name}: descriptions changed; re-export (`baoxue contracts export`)")
    for name in committed:
        if name not in expected:
            problems.append(f"{name}: committed schema has no model (a published version may not be removed)")
    return problems


def export_schemas(directory: Path) -> list[str]:
    """Writes new schemas and cosmetic updates; refuses structural changes to committed ones."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = []
    for name, schema in sorted(expected_files().items()):
        path = directory / name
        if path.exists():
            old = json.loads(path.read_text())
            if _structural(old) != _structural(schema):
                raise SystemExit(f"{name}: incompatible change to a published contract; add a new version instead")
            if old == schema:
                continue
        path.write_text(_render(schema))
        lines.append(f"wrote {path}")
    return lines
