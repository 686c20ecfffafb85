"""The registry's import benchmark: generated children imported into a scratch schema, children per second.

Run by `baoxue bench` (`bench/suite.py`), or alone:
`BAOXUE_DATABASE_URL=postgresql://... .venv/bin/python -m bench.registry.imports --children 1000000`.
"""

from __future__ import annotations

import time
from datetime import date

import psycopg
import typer
from psycopg import sql

from bench.registry.county import generate_county, schools_of
from services.registry.bootstrap import open_registry
from services.registry.entrypoints.cli import CLI_META
from services.registry.settings import RegistrySettings


def bench_import(
    children: int = typer.Option(1_000_000, help="Generated children to import"),
    schema: str = typer.Option("registry_bench", help="Scratch schema, dropped first"),
    kind: str = typer.Option("population", help="population (public security) | students (学籍)"),
) -> None:
    """Imports generated children into a scratch schema and prints children per second."""
    with psycopg.connect(RegistrySettings().database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    registry, settings = open_registry(schema)
    started = time.perf_counter()
    county = generate_county(children, out_of_school_ratio=0.0 if kind == "students" else 0.002)
    content = county.population_csv() if kind == "population" else county.students_csv()
    for s in schools_of(county.code):
        registry.registration.register_school(meta=CLI_META, **s)
    typer.echo(f"generated {children:,} children ({len(content) / 1e6:.0f} MB CSV) in "
               f"{time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    report = registry.imports.import_file(kind=kind, content=content, filename="bench.csv", source="public_security",
                                  valid_only=False, today=date(2026, 9, 1), meta=CLI_META,
                                  batch_size=settings.import_batch_size)
    elapsed = time.perf_counter() - started
    typer.echo(f"import: {report.created:,} children in {elapsed:.1f} s = {report.created / elapsed:,.0f} children/s "
               f"(validated, linked and durably stored as events; errors={len(report.errors)})")
    started = time.perf_counter()
    registry.index.catch_up(registry.store)
    elapsed = time.perf_counter() - started
    typer.echo(f"read model catch-up: {elapsed:.1f} s = {report.created / elapsed:,.0f} events/s")
    started = time.perf_counter()
    again = registry.imports.import_file(kind=kind, content=content, filename="bench.csv", source="public_security",
                                 valid_only=False, today=date(2026, 9, 1), meta=CLI_META)
    typer.echo(f"re-import of the same file: created={again.created} changed={again.changed} "
               f"unchanged={again.unchanged:,} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    typer.run(bench_import)
