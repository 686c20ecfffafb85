"""Registry HTTP API: schools, students, the population, imports, comparisons, queries — each route module's
router bound to the registry's use cases, every route scoped to the caller's jurisdiction."""

from __future__ import annotations

from fastapi import FastAPI

from services.registry.application.registry import Registry
from services.registry.domain.comparisons import Rules
from services.registry.entrypoints.api.comparisons import comparisons_router
from services.registry.entrypoints.api.erasure import erasure_router
from services.registry.entrypoints.api.imports import imports_router
from services.registry.entrypoints.api.jurisdictions import jurisdictions_router
from services.registry.entrypoints.api.lifecycle import lifecycle_router
from services.registry.entrypoints.api.population import population_router
from services.registry.entrypoints.api.queries import queries_router
from services.registry.entrypoints.api.schools import schools_router
from services.registry.roles import MATRIX
from services.runtime.bootstrap import Runtime, base_app
from services.runtime.readaudit import ReadAudit, reads_router
from services.runtime.web import seal


def create_app(runtime: Runtime, registry: Registry, rules: Rules | None = None) -> FastAPI:
    """The registry API bound to its use cases (domain errors answered by their status in `web.py`)."""
    app = base_app(
        runtime,
        title="Baoxue registry (学籍与适龄人口)",
        description="Schools, children and their registration. Every command needs a bearer token.",
        roles=MATRIX,
    )
    rules = rules or Rules()
    clock = runtime.clock
    app.state.read_audit = ReadAudit(runtime.db, runtime.clock)
    app.include_router(schools_router(registry, clock))
    app.include_router(reads_router())
    app.include_router(lifecycle_router(registry))
    app.include_router(imports_router(registry, clock))
    app.include_router(population_router(registry, clock))
    app.include_router(comparisons_router(registry, clock, rules))
    app.include_router(queries_router(registry))
    app.include_router(jurisdictions_router(registry, clock))
    app.include_router(erasure_router(registry))
    return seal(app)
