"""Registry bootstrap: builds settings, runtime and application, then the API, relay or consumer."""

from __future__ import annotations

from contracts import topics
from services.registry.api import create_app
from services.registry.application import RegistryApp, to_contract
from services.registry.settings import RegistrySettings
from services.runtime.bootstrap import build_runtime, run_relay, serve
from services.runtime.eventstore import build_application

SERVICE = "registry"


def api(settings: RegistrySettings | None = None):
    settings = settings or RegistrySettings()
    runtime = build_runtime(SERVICE, "api", settings)
    return create_app(runtime, build_application(RegistryApp, settings, SERVICE)), runtime


def run_api() -> None:
    app, runtime = api()
    serve(app, runtime)


def run_relay_process() -> None:
    settings = RegistrySettings()
    runtime = build_runtime(SERVICE, "relay", settings)
    run_relay(runtime, build_application(RegistryApp, settings, SERVICE), topics.REGISTRY, to_contract)


ROLES = {"api": run_api, "relay": run_relay_process}
