"""`baoxue registry ...` for operators: imports, division loading, comparison runs, KEKs and their rotation.

The commands get their use cases from the bootstrap (`build_cli(open_registry, open_data_keys)`): an entrypoint
does not compose the service itself."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any, Callable

import typer

from services.registry.adapters.keys import KeyFileProvider

CLI_META = {"actor_id": "cli", "actor_role": "admin", "jurisdiction": "", "correlation_id": "cli"}


def build_cli(open_registry: Callable[[], tuple[Any, Any]], open_data_keys: Callable[[], tuple[Any, Any, Any]]
              ) -> typer.Typer:
    """The operator commands bound to the bootstrap's composition (use cases, data keys)."""
    app = typer.Typer(help="Registry (学籍与适龄人口): imports, divisions, comparisons, keys.", no_args_is_help=True)

    @app.command("import")
    def import_file(
        path: Path = typer.Argument(..., exists=True, readable=True, help=".csv or .xlsx"),
        kind: str = typer.Option("population", help="population | students | schools"),
        source: str = typer.Option("public_security", help="public_security | civil_affairs | disability_federation | "
                                                           "poverty_alleviation | education"),
        valid_only: bool = typer.Option(False, help="Import the valid rows even if others are bad"),
    ) -> None:
        """Imports a file; prints every bad row with its line and reason."""
        registry, settings = open_registry()
        content = path.read_bytes()
        if kind == "schools":
            report = registry.imports.import_schools(content, path.name, CLI_META)
        else:
            report = registry.imports.import_file(kind=kind, content=content, filename=path.name, source=source,
                                                  valid_only=valid_only, today=date.today(), meta=CLI_META,
                                                  batch_size=settings.import_batch_size)
        for e in report.errors:
            typer.echo(f"line {e.line}: {e.column or '-'}: {e.code}: {e.message}", err=True)
        typer.echo(f"rows={report.rows} valid={report.valid_rows} errors={len(report.errors)} "
                   f"imported={report.imported} "
                   f"created={report.created} changed={report.changed} unchanged={report.unchanged}")
        raise typer.Exit(0 if report.imported else 1)

    @app.command("load-divisions")
    def load_divisions(prefix: str = typer.Option("", help="Code prefix, e.g. 52 for 贵州省 (empty: all of China)")
                       ) -> None:
        """Loads the packaged GB/T 2260 division codes (MCA data) as events; loading again adds only what is new."""
        registry, _ = open_registry()
        typer.echo(registry.divisions.load_divisions(prefix=prefix, meta=CLI_META))

    @app.command("compare")
    def compare(prefix: str = typer.Option(""),
                as_of: str = typer.Option(None, help="YYYY-MM-DD (default today)")) -> None:
        """Runs the census, transfer and 小升初 comparisons now."""
        registry, settings = open_registry()
        day = date.fromisoformat(as_of) if as_of else date.today()
        typer.echo(registry.comparisons.run_comparisons(prefix=prefix, as_of=day, rules=settings.rules(),
                                                        meta=CLI_META))

    @app.command("new-kek")
    def new_kek(key_file: Path = typer.Option(..., help="The KEK file (created if missing, mode 0600)"),
                kek_id: str = typer.Option(None, help="Id of the new KEK (default: k<n+1>)")) -> None:
        """Adds a new random 256-bit KEK to the key file and makes it current (older KEKs stay until rotated)."""
        keys: dict[str, bytes] = {}
        if key_file.exists():
            keys = dict(KeyFileProvider.from_file(key_file)._keys)
        kek_id = kek_id or f"k{len(keys) + 1}"
        if kek_id in keys:
            raise typer.BadParameter(f"KEK {kek_id} already exists")
        keys[kek_id] = os.urandom(32)
        KeyFileProvider.write(key_file, keys, kek_id)
        typer.echo(f"current KEK: {kek_id} ({len(keys)} in {key_file})")

    @app.command("rotate-keys")
    def rotate_keys(drop_old: bool = typer.Option(False, help="Afterwards remove KEKs no data key uses from the file")
                    ) -> None:
        """Re-wraps every data key under the key file's current KEK (BAOXUE_KEY_FILE); data is not re-encrypted."""
        settings, provider, keys = open_data_keys()
        typer.echo(f"before: {keys.kek_ids_in_use()}")
        typer.echo(f"re-wrapped {keys.rewrap()} data keys under {provider.current_kek_id()}")
        in_use = keys.kek_ids_in_use()
        typer.echo(f"after: {in_use}")
        if drop_old and settings.key_file is not None and isinstance(provider, KeyFileProvider):
            kept = {k: v for k, v in provider._keys.items() if k in in_use or k == provider.current_kek_id()}
            KeyFileProvider.write(settings.key_file, kept, provider.current_kek_id())
            typer.echo(f"key file keeps: {sorted(kept)}")

    return app
