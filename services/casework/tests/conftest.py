"""Casework fixtures on real PostgreSQL (the root conftest provides ``database_url``)."""

from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.casework.adapters.projections_pg import PostgresCaseViews
from services.casework.application import CaseworkApp
from services.casework.bootstrap import SERVICE, build_casework
from services.casework.entrypoints.api import create_app
from services.casework.settings import CaseworkSettings
from services.runtime.bootstrap import build_runtime
from services.runtime.clock import FixedClock
from services.runtime.db import Database
from services.runtime.eventstore import build_application


@pytest.fixture(scope="session")
def casework_settings(database_url) -> CaseworkSettings:
    return CaseworkSettings(database_url=database_url, env="test")


@pytest.fixture
def pg_app(casework_settings):
    """The application on PostgreSQL with its case index, as the consumer and API processes build it."""
    db = Database(casework_settings.database_url, SERVICE)
    app = build_application(partial(CaseworkApp, index=PostgresCaseViews(db)), casework_settings, SERVICE)
    yield app
    app.close()
    db.close()


@pytest.fixture
def pg_app_factory(casework_settings):
    """Further applications on the same store: other processes of the same service."""
    opened = []

    def make(index: Any = None) -> CaseworkApp:
        app = build_application(partial(CaseworkApp, index=index), casework_settings, SERVICE)
        opened.append(app)
        return app

    yield make
    for app in opened:
        app.close()


@pytest.fixture
def api(casework_settings):
    """The API on PostgreSQL with a fixed clock, and the application behind it."""
    runtime = build_runtime(SERVICE, "api", casework_settings, clock=FixedClock(datetime(2025, 9, 11, 2, tzinfo=UTC)))
    app = build_casework(runtime, casework_settings)
    with TestClient(create_app(runtime, app, page_size_max=casework_settings.case_page_size_max)) as client:
        yield client, app
    app.close()
    runtime.close()
