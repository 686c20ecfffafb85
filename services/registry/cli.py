"""`baoxue registry ...`: imports, the import benchmark, division loading and comparison runs."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import typer

app = typer.Typer(help="Registry (学籍与适龄人口): imports, benchmark, divisions, comparisons.", no_args_is_help=True)

CLI_META = {"actor_id": "cli", "actor_role": "admin", "jurisdiction": "", "correlation_id": "cli"}


def _registry(schema: str = "registry"):
    from services.registry.application import RegistryApp
    from services.registry.projections import PostgresIndex
    from services.registry.settings import RegistrySettings
    from services.runtime.db import Database
    from services.runtime.eventstore import build_application

    from services.registry.protection import protect

    settings = RegistrySettings()
    db = Database(settings.database_url, schema)
    registry = protect(build_application(RegistryApp, settings, schema), settings, db)
    registry.index = PostgresIndex(db, batch_size=settings.index_batch_size)
    return registry, settings


@app.command("import")
def import_file(
    path: Path = typer.Argument(..., exists=True, readable=True, help=".csv or .xlsx"),
    kind: str = typer.Option("population", help="population | students | schools"),
    source: str = typer.Option("public_security", help="public_security | civil_affairs | disability_federation | "
                                                       "poverty_alleviation | education"),
    valid_only: bool = typer.Option(False, help="Import the valid rows even if others are bad"),
) -> None:
    """Imports a file; prints every bad row with its line and reason."""
    registry, settings = _registry()
    content = path.read_bytes()
    if kind == "schools":
        report = registry.import_schools(content, path.name, CLI_META)
    else:
        report = registry.import_file(kind=kind, content=content, filename=path.name, source=source,
                                      valid_only=valid_only, today=date.today(), meta=CLI_META,
                                      batch_size=settings.import_batch_size)
    for e in report.errors:
        typer.echo(f"line {e.line}: {e.column or '-'}: {e.code}: {e.message}", err=True)
    typer.echo(f"rows={report.rows} valid={report.valid_rows} errors={len(report.errors)} imported={report.imported} "
               f"created={report.created} changed={report.changed} unchanged={report.unchanged}")
    raise typer.Exit(0 if report.imported else 1)


@app.command("bench-import")
def bench_import(
    children: int = typer.Option(1_000_000, help="Generated children to import"),
    schema: str = typer.Option("registry_bench", help="Scratch schema, dropped first"),
    kind: str = typer.Option("population", help="population (public security) | students (学籍)"),
) -> None:
    """Imports generated children into a scratch schema and prints children per second."""
    import psycopg
    from psycopg import sql

    from services.registry.bench import generate_county, schools_of
    from services.registry.settings import RegistrySettings

    with psycopg.connect(RegistrySettings().database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    registry, settings = _registry(schema)
    started = time.perf_counter()
    county = generate_county(children, out_of_school_ratio=0.0 if kind == "students" else 0.002)
    content = county.population_csv() if kind == "population" else county.students_csv()
    for s in schools_of(county.code):
        registry.register_school(meta=CLI_META, **s)
    typer.echo(f"generated {children:,} children ({len(content) / 1e6:.0f} MB CSV) in "
               f"{time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    report = registry.import_file(kind=kind, content=content, filename="bench.csv", source="public_security",
                                  valid_only=False, today=date(2026, 9, 1), meta=CLI_META,
                                  batch_size=settings.import_batch_size)
    elapsed = time.perf_counter() - started
    typer.echo(f"import: {report.created:,} children in {elapsed:.1f} s = {report.created / elapsed:,.0f} children/s "
               f"(validated, linked and durably stored as events; errors={len(report.errors)})")
    started = time.perf_counter()
    registry.index.catch_up(registry)
    elapsed = time.perf_counter() - started
    typer.echo(f"read model catch-up: {elapsed:.1f} s = {report.created / elapsed:,.0f} events/s")
    started = time.perf_counter()
    again = registry.import_file(kind=kind, content=content, filename="bench.csv", source="public_security",
                                 valid_only=False, today=date(2026, 9, 1), meta=CLI_META)
    typer.echo(f"re-import of the same file: created={again.created} changed={again.changed} "
               f"unchanged={again.unchanged:,} in {time.perf_counter() - started:.1f} s")


@app.command("load-divisions")
def load_divisions(prefix: str = typer.Option("", help="Code prefix, e.g. 52 for 贵州省 (empty: all of China)")) -> None:
    """Loads the packaged GB/T 2260 division codes (MCA data) as events; loading again adds only what is new."""
    registry, _ = _registry()
    typer.echo(registry.load_divisions(prefix=prefix, meta=CLI_META))


@app.command("compare")
def compare(prefix: str = typer.Option(""), as_of: str = typer.Option(None, help="YYYY-MM-DD (default today)")) -> None:
    """Runs the census, transfer and 小升初 comparisons now."""
    registry, settings = _registry()
    day = date.fromisoformat(as_of) if as_of else date.today()
    typer.echo(registry.run_comparisons(prefix=prefix, as_of=day, rules=settings.rules(), meta=CLI_META))


@app.command("new-kek")
def new_kek(key_file: Path = typer.Option(..., help="The KEK file (created if missing, mode 0600)"),
            kek_id: str = typer.Option(None, help="Id of the new KEK (default: k<n+1>)")) -> None:
    """Adds a new random 256-bit KEK to the key file and makes it current (older KEKs stay until rotated)."""
    import os

    from services.registry.keys import KeyFileProvider

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
    from services.registry.keys import KeyFileProvider, PostgresDataKeys
    from services.registry.protection import key_provider
    from services.registry.settings import RegistrySettings
    from services.runtime.db import Database

    settings = RegistrySettings()
    provider = key_provider(settings)
    keys = PostgresDataKeys(Database(settings.database_url, "registry", size=2), provider)
    typer.echo(f"before: {keys.kek_ids_in_use()}")
    typer.echo(f"re-wrapped {keys.rewrap()} data keys under {provider.current_kek_id()}")
    in_use = keys.kek_ids_in_use()
    typer.echo(f"after: {in_use}")
    if drop_old and settings.key_file is not None and isinstance(provider, KeyFileProvider):
        kept = {k: v for k, v in provider._keys.items() if k in in_use or k == provider.current_kek_id()}
        KeyFileProvider.write(settings.key_file, kept, provider.current_kek_id())
        typer.echo(f"key file keeps: {sorted(kept)}")
