"""Every service's API built in-process on PostgreSQL, as its bootstrap builds it, for the bad-input campaign."""

from __future__ import annotations

import importlib
from collections import Counter
from typing import Any

import pytest

SERVICES = ("registry", "attendance", "casework", "notifications", "reporting")
SETTINGS = {
    "registry": ("services.registry.settings", "RegistrySettings"),
    "attendance": ("services.attendance.settings", "AttendanceSettings"),
    "casework": ("services.casework.settings", "CaseworkSettings"),
    "notifications": ("services.notifications.settings", "NotificationsSettings"),
    "reporting": ("services.reporting.settings", "ReportingSettings"),
}

# (service, "METHOD /path") -> examples sent; printed at the end of the run.
TALLY: Counter[tuple[str, str]] = Counter()


def build_service_app(service: str, database_url: str, kafka_bootstrap: str, tmp_dir: Any) -> tuple[Any, Any]:
    """The service's FastAPI app and runtime through its own bootstrap's ``api(settings)``."""
    module, name = SETTINGS[service]
    settings_cls = getattr(importlib.import_module(module), name)
    extra: dict[str, Any] = {"data_dir": str(tmp_dir)}
    if service == "attendance":
        extra.update(ingest_rate_per_s=100_000, ingest_burst=100_000)
    fields = settings_cls.model_fields
    settings = settings_cls(database_url=database_url, kafka_bootstrap=kafka_bootstrap, env="test",
                            **{k: v for k, v in extra.items() if k in fields})
    return importlib.import_module(f"services.{service}.bootstrap").api(settings)


@pytest.fixture(scope="session")
def service_apps(database_url, kafka_bootstrap, tmp_path_factory):
    """service -> FastAPI app, all five on one database (each in its own schema), closed at the end."""
    apps, runtimes = {}, []
    try:
        for service in SERVICES:
            app, runtime = build_service_app(service, database_url, kafka_bootstrap, tmp_path_factory.mktemp(service))
            apps[service] = app
            runtimes.append(runtime)
        yield apps
    finally:
        for runtime in runtimes:
            runtime.close()


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001
    if not TALLY:
        return
    per_service: dict[str, tuple[int, int]] = {}
    for (service, _), n in TALLY.items():
        ops, examples = per_service.get(service, (0, 0))
        per_service[service] = (ops + 1, examples + n)
    terminalreporter.section("bad-input campaign (schemathesis)")
    for service, (ops, examples) in sorted(per_service.items()):
        terminalreporter.write_line(f"{service:<14} {ops:>4} operations {examples:>7} requests")
    terminalreporter.write_line(f"{'total':<14} {len(TALLY):>4} operations {sum(TALLY.values()):>7} requests")
