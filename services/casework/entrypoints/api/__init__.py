"""Casework HTTP API: ``cases`` (the app, reports, lists, a case and its history), ``actions`` (commands on a case),
``owners`` (responsibility maps, queues), ``audit`` (chains, past versions), ``schemas`` (request/response models)."""

from services.casework.entrypoints.api.cases import create_app

__all__ = ["create_app"]
