"""A registry relay as its own process (the takeover test kills it): schema, topic and partitions from argv."""

from __future__ import annotations

import sys

from services.registry.adapters.publishing import to_contract
from services.registry.application.store import RegistryApp
from services.runtime.db import Database
from services.runtime.eventstore import build_application
from services.runtime.logging import configure_logging
from services.runtime.metrics import Metrics
from services.runtime.relay import Relay
from services.runtime.settings import ServiceSettings

if __name__ == "__main__":
    database_url, bootstrap, schema, topic, partitions = sys.argv[1:6]
    settings = ServiceSettings(database_url=database_url, kafka_bootstrap=bootstrap, env="test")
    app = build_application(RegistryApp, settings, schema)
    relay = Relay(service=schema, app=app, db=Database(database_url, schema), topic=topic, to_contract=to_contract,
                  bootstrap=bootstrap, partitions=int(partitions), metrics=Metrics("test"),
                  logger=configure_logging("test", "relay"), safety_poll_s=0.5, standby_poll_s=0.2)
    relay.run(lambda: False)
