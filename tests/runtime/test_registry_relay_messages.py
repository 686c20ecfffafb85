"""The registry relay's messages are the ones the straightforward path produces: same partition, key, value bytes
and headers, for a mix of registry events on PostgreSQL (enrolments with and without guardians, lifecycle events,
population records with special groups, findings, an erasure), read in batches that split the mix anywhere.

The straightforward path, written out here: the library's own ``select_notifications`` and JSON decoder, every
sealed value opened one event at a time (``Sealer.open``), the registry's ``to_contract``, and the CloudEvents
headers from an ``Envelope`` (``kafka.binary_headers``). The relay under test reads binary tuples, decodes with
orjson, opens the batch's values with its keys read at once and only the ones its contracts read."""

from __future__ import annotations

import os
import uuid
from datetime import date
from typing import Any

import pytest
from eventsourcing.persistence import JSONTranscoder
from eventsourcing.postgres import PostgresApplicationRecorder

from contracts import Envelope
from services.registry.adapters.keys import KeyFileProvider
from services.registry.adapters.publishing import contract_mapper
from services.registry.adapters.sealing import PREFIX, Sealer, SealingMapper
from services.registry.bootstrap import compose
from services.registry.settings import RegistrySettings
from services.registry.tests.stories import META, County, make_id
from services.runtime.db import Database
from services.runtime.kafka import PARTITIONS_HEADER, binary_headers, partition_for
from services.runtime.logging import configure_logging
from services.runtime.metrics import Metrics
from services.runtime.partitioning import PartitionPlan
from services.runtime.relay import Relay, RelayState
from services.runtime.scratchdb import fresh_database

PARTITIONS = 5


class CapturingProducer:
    """Stands in for the Kafka producer: keeps what was produced, acknowledges at once."""

    def __init__(self) -> None:
        self.messages: list[tuple[int, bytes, bytes, list[tuple[str, bytes]]]] = []

    def produce(self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]], partition: int,
                on_delivery: Any) -> None:
        self.messages.append((partition, key, value, list(headers)))
        on_delivery(None, None)

    def poll(self, _timeout: float = 0) -> int:
        return 0

    def flush(self, _timeout: float = 0) -> int:
        return 0

    def purge(self) -> None:
        pass


class PgCounty(County):
    """The stories' county on a PostgreSQL registry."""

    def __init__(self, registry: Any) -> None:
        self.app = registry
        self.primary = self.school("P1", "primary", "520102001")
        self.junior = self.school("J1", "junior", "520102001")
        self.special = self.school("T1", "special", "520102002")
        self.far_school = self.school("X1", "primary", "520103001")


def tell_stories(county: PgCounty) -> None:
    lifecycle, population = county.app.lifecycle, county.app.population
    movers = [county.enrol(make_id(f"5201022016051200{i}"), name=name) for i, name in enumerate(["欧阳明珠", "李四"])]
    graduate = county.enrol(make_id("52010220140301005"), grade=6, name="司马光")
    county.app.registration.enrol_student(today=date(2026, 9, 1), meta=META, id_number=make_id("52010220150807102"),
                                          name="诸葛文静", birth_date=date(2015, 8, 7), school_id=county.special,
                                          grade=5, class_name="5-1", guardian_name="诸葛亮", guardian_phone="13987654321")
    lifecycle.transfer_out(movers[0], on=date(2026, 9, 10), reason="随父母外出务工", to_school_id=None,
                           to_region_code="44", meta=META)
    lifecycle.transfer_out(movers[1], on=date(2026, 9, 10), reason="转学", to_school_id=None, to_region_code=None,
                           meta=META)
    lifecycle.graduate(graduate, on=date(2026, 7, 1), level="primary", meta=META)
    county.resident(make_id("52010220150807002"), name="王小明", flags={"left_behind": {}, "disabled": {"degree": "2"}})
    county.resident(make_id("52010220160101003"), name="赵小红")
    county.compare(date(2026, 9, 15))
    population.report_life_event(id_number=make_id("52010220160101003"), status="deceased", on=date(2026, 9, 20),
                                 source="public_security", reference="公(2026)123", to_region_code=None, meta=META)
    county.compare(date(2026, 10, 12))
    lifecycle.transfer_in(movers[1], school_id=county.far_school, on=date(2026, 10, 16), grade=4, class_name="4-2",
                          meta=META)
    county.compare(date(2026, 10, 17))
    county.app.erasure.erase_child("520102", movers[0], legal_basis="order", reference="(2026)法令1号",
                                   approved_by="officer-2", meta=META)
    county.enrol(make_id("52010220160512099"), name="孙悟空")  # after the erasure: still published, still sealed


def straightforward_messages(store: Any, to_contract: Any) -> list[tuple[int, bytes, bytes, list[tuple[str, bytes]]]]:
    """What publishing one event at a time, through the library's reader and decoder, puts on the wire."""
    transcoder = JSONTranscoder()
    store.register_transcodings(transcoder)
    mapper = SealingMapper(transcoder=transcoder, sealer=Sealer(store.data_keys))
    notifications = PostgresApplicationRecorder.select_notifications(store.recorder, start=1, limit=100_000)
    chain: dict[int, int] = {}
    out = []
    for n in notifications:
        event = mapper.to_domain_event(n)
        contract = to_contract(event)
        if contract is None:
            continue
        subject = str(n.originator_id)
        partition = partition_for(subject, PARTITIONS)
        meta = getattr(event, "meta", None) or {}
        envelope = Envelope(
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{subject}/{n.originator_version}")), source="/baoxue/registry",
            type=contract.ce_type(), subject=subject, time=meta.get("at") or event.timestamp,
            aggregateversion=n.originator_version, sequence=n.id, partitionprev=chain.get(partition, 0),
            actorid=meta.get("actor_id", "system:registry"), actorrole=meta.get("actor_role", "system"),
            jurisdiction=getattr(contract, "township_code", None) or meta.get("jurisdiction") or "00",
            correlationid=meta.get("correlation_id") or subject, causationid=meta.get("causation_id"))
        headers = binary_headers(envelope.model_dump()) + [(PARTITIONS_HEADER, str(PARTITIONS).encode())]
        out.append((partition, subject.encode(), contract.model_dump_json().encode(), headers))
        chain[partition] = n.id
    return out


@pytest.fixture
def registry(database_url, tmp_path):
    with fresh_database(database_url, "baoxue_rm") as url:
        key_file = tmp_path / "kek.json"
        KeyFileProvider.write(key_file, {"k1": os.urandom(32)}, "k1")
        settings = RegistrySettings(database_url=url, env="test", db_pool_size=2, key_file=key_file,
                                    pseudonym_key=os.urandom(24).hex())
        db = Database(url, "registry", size=2)
        try:
            yield compose(settings, db), db
        finally:
            db.close()


@pytest.mark.parametrize("batch_size", [1, 7, 500])
def test_the_relay_publishes_what_one_event_at_a_time_would(registry, batch_size):
    app, db = registry
    tell_stories(PgCounty(app))
    store = app.store
    to_contract = contract_mapper(store)
    expected = straightforward_messages(store, to_contract)
    kinds = {h[1] for *_, headers in expected for h in headers if h[0] == "ce_type"}
    assert len(expected) > 20 and len(kinds) >= 8, kinds  # a real mix: enrolments, lifecycle, findings, erasure
    assert any(b"*" in value for _, _, value, _ in expected)  # masks opened from sealed values

    relay = Relay(service="registry", app=store, db=db, topic="registry.test", to_contract=to_contract,
                  bootstrap="127.0.0.1:1", partitions=PARTITIONS, metrics=Metrics("registry"),
                  logger=configure_logging("registry", "relay", "WARNING"), batch_size=batch_size)
    relay.producer = producer = CapturingProducer()  # type: ignore[assignment]
    relay._last_broker_check = float("inf")  # no broker: the plan is given
    assert relay.leadership.held()  # the session the plan lock is held on
    partitions = {(relay.topic, p) for p in range(PARTITIONS)}
    relay.leases.ensure(partitions)
    relay.leases.tick(partitions)  # every partition to this one replica
    state = RelayState({p: 0 for p in range(PARTITIONS)}, "test-cluster", {}, PartitionPlan.single(PARTITIONS))
    total = store.recorder.max_notification_id()
    while state.position < total:
        state = relay.publish_batch(state)
    relay.settle(drain=True)
    relay.leases.release_all()
    relay.leadership.release()

    assert producer.messages == expected
    assert PREFIX.encode() not in b"".join(value for _, _, value, _ in producer.messages)


def test_notifications_are_read_as_the_library_reads_them(registry):
    app, _ = registry
    tell_stories(PgCounty(app))
    recorder = app.store.recorder
    topics = sorted({n.topic for n in PostgresApplicationRecorder.select_notifications(recorder, 1, 1000)})[:3]
    for kwargs in ({"start": 1, "limit": 1000}, {"start": 5, "limit": 7}, {"start": None, "limit": 3},
                   {"start": 3, "limit": 100, "stop": 20}, {"start": 3, "limit": 100, "inclusive_of_start": False},
                   {"start": 1, "limit": 100, "topics": topics}, {"start": 10**6, "limit": 5}):
        ours = recorder.select_notifications(**kwargs)
        assert ours == PostgresApplicationRecorder.select_notifications(recorder, **kwargs), kwargs
        assert all(type(n.state) is bytes and type(n.originator_id) is uuid.UUID for n in ours)
    assert len(recorder.select_notifications(start=1, limit=1000)) > 20


def test_the_relay_leaves_unpublished_personal_values_sealed(registry):
    """Least exposure: the relay's events hold opened only the values its contracts mask, the rest stay sealed."""
    app, _ = registry
    county = PgCounty(app)
    county.app.registration.enrol_student(today=date(2026, 9, 1), meta=META, id_number=make_id("52010220150807102"),
                                          name="诸葛文静", birth_date=date(2015, 8, 7), school_id=county.special,
                                          grade=5, class_name="5-1", guardian_name="诸葛亮", guardian_phone="13987654321")
    store = app.store
    notifications = store.recorder.select_notifications(start=1, limit=100)
    opened = store.mapper.to_domain_events(notifications, contract_mapper(store).personal_fields)
    enrolled = [vars(e) for e in opened if type(e).__name__ == "Enrolled"][0]
    assert enrolled["name"] == "诸葛文静" and enrolled["id_number"] == make_id("52010220150807102")
    for sealed in ("birth_date", "guardian_name", "guardian_phone"):
        assert enrolled[sealed].startswith(PREFIX)
    every = [vars(e) for e in store.mapper.to_domain_events(notifications) if type(e).__name__ == "Enrolled"][0]
    assert every["guardian_phone"] == "13987654321" and every["birth_date"] == date(2015, 8, 7)
    assert every == vars([store.mapper.to_domain_event(n) for n in notifications
                          if n.topic.endswith("Student.Enrolled")][0])
