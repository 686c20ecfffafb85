"""The inspection store's public contracts (baoxue.inspections.v1) and its relay, which runs beside the report
store's relay: its own lock, its own position (by topic) over its own notification sequence."""

from __future__ import annotations

import threading

import pytest
from confluent_kafka import Consumer, TopicPartition

from contracts import topics
from services.reporting.adapters import inspection_publishing, publishing
from services.reporting.adapters.inspection_publishing import facts_from, to_contract
from services.reporting.application.monthly import ReportsApplication
from services.reporting.settings import ReportingSettings
from services.reporting.tests.test_inspections import (  # noqa: F401  (fixtures)
    COUNTY,
    EVIDENCE,
    TOWNSHIP,
    TOWNSHIP_OFFICER,
    _stored,
    at,
    client,
    finding,
    plan,
    stack,
    step,
)
from services.runtime.db import Database
from services.runtime.eventstore import build_application
from services.runtime.logging import configure_logging
from services.runtime.metrics import Metrics
from services.runtime.relay import Relay

pytestmark = pytest.mark.integration


def published(inspections, iid):
    facts = facts_from(inspections.app)
    return [c for e in _stored(inspections, iid) if (c := to_contract(e, facts)) is not None]


def test_the_stored_events_map_to_their_public_contracts(client, stack):
    _, clock, inspections = stack
    iid = plan(client).json()["inspection_id"]
    finding(client, iid, "p1")
    step(client, iid, "p1", "order", deadline="2026-03-03")
    clock.set(at(2))
    inspections.tick()
    clock.set(at(4))
    inspections.tick()
    contracts = published(inspections, iid)
    assert [type(c).__name__ for c in contracts] == [
        "InspectionPlannedV1", "InspectionFindingRecordedV1", "InspectionRectificationOrderedV1",
        "InspectionRectificationDueV1", "InspectionFindingEscalatedV1"]  # DeadlinePassed stays internal
    planned, recorded, ordered, due, escalated = contracts
    assert (planned.inspection_code, str(planned.planned_on)) == (COUNTY, "2026-03-01")
    assert "title" not in planned.model_dump()  # free text is never published
    assert recorded.evidence_sha256 == ["ab" * 32] and recorded.inspection_code == COUNTY
    assert (ordered.unit_code, ordered.description_code, str(ordered.deadline)) == (
        TOWNSHIP, "owner_missing", "2026-03-03")
    assert (due.days_left, str(due.deadline), due.unit_code) == (1, "2026-03-03", TOWNSHIP)
    assert (escalated.unit_code, escalated.escalated_to) == (TOWNSHIP, COUNTY)
    assert all(c.ce_type().startswith("cn.baoxue.inspections.Inspection") for c in contracts)
    assert all(c.topic == topics.INSPECTIONS for c in contracts)


def test_reported_rejected_and_accepted_rectifications_are_published(client, stack):
    _, _, inspections = stack
    iid = plan(client).json()["inspection_id"]
    finding(client, iid, "r1")
    step(client, iid, "r1", "order", deadline="2026-03-20")
    step(client, iid, "r1", "report", headers=TOWNSHIP_OFFICER, evidence=EVIDENCE)
    step(client, iid, "r1", "reject", reason_code="incomplete", new_deadline="2026-03-31")
    step(client, iid, "r1", "report", headers=TOWNSHIP_OFFICER, evidence=EVIDENCE)
    step(client, iid, "r1", "accept")
    contracts = published(inspections, iid)
    names = [type(c).__name__.removeprefix("Inspection") for c in contracts]
    assert names == ["PlannedV1", "FindingRecordedV1", "RectificationOrderedV1", "RectificationReportedV1",
                     "RectificationRejectedV1", "RectificationReportedV1", "RectificationAcceptedV1"]
    rejected = contracts[4]
    assert (rejected.reason_code, str(rejected.deadline), rejected.rejector_role) == (
        "incomplete", "2026-03-31", "county_officer")
    assert contracts[3].reporter_role == "township_officer" and contracts[3].evidence_sha256 == ["ab" * 32]


def test_the_inspection_relay_publishes_on_its_own_topic_beside_the_report_relay(client, stack, database_url,
                                                                                 kafka_bootstrap):
    _, _, inspections = stack
    iid = plan(client, key="relayed").json()["inspection_id"]
    finding(client, iid, "k1")
    settings = ReportingSettings(database_url=database_url, kafka_bootstrap=kafka_bootstrap, env="test")
    db, log, metrics = Database(database_url, "reporting"), configure_logging("reporting", "test"), Metrics("test")
    reports = build_application(ReportsApplication, settings, "reporting")
    facts = inspection_publishing.facts_from(inspections.app)
    suffix = iid[:8]
    relays = [
        Relay(service="reporting", app=reports, db=db, topic=f"{topics.REPORTING}.{suffix}", bootstrap=kafka_bootstrap,
              to_contract=publishing.to_contract, partitions=3, metrics=metrics, logger=log, safety_poll_s=0.3),
        Relay(service="reporting", app=inspections.app, db=db, topic=f"{topics.INSPECTIONS}.{suffix}",
              to_contract=lambda e: inspection_publishing.to_contract(e, facts), bootstrap=kafka_bootstrap,
              partitions=3, metrics=metrics, logger=log, safety_poll_s=0.3, store="inspections"),
    ]
    stop = threading.Event()
    threads = [threading.Thread(target=r.run, args=(stop.is_set,), daemon=True) for r in relays]
    for t in threads:
        t.start()
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": "reader", "enable.auto.commit": False})
    types: list[str] = []
    try:
        consumer.assign([TopicPartition(relays[1].topic, p, 0) for p in range(3)])
        for _ in range(150):  # up to 30 s: until the inspection relay led and published both events
            msg = consumer.poll(0.2)
            if msg is not None and not msg.error():
                types.append(dict(msg.headers())["ce_type"].decode())
            if len(types) >= 2:
                break
        with db.transaction() as conn:  # each store's relay holds its own topic's partitions (leases of its own)
            held = {r["consumer"]: r["n"] for r in conn.execute(
                "SELECT consumer, count(*) AS n FROM consumer_leases WHERE holder IS NOT NULL AND consumer IN "
                "(%s, %s) GROUP BY consumer", (relays[0].lease_name, relays[1].lease_name))}
        both_led = held == {relays[0].lease_name: 3, relays[1].lease_name: 3}
    finally:
        consumer.close()
        stop.set()
        for t in threads:
            t.join(15)
    assert types[:2] == ["cn.baoxue.inspections.InspectionPlanned.v1",
                         "cn.baoxue.inspections.InspectionFindingRecorded.v1"]
    assert both_led, held  # leases per store: neither relay waits for the other
    assert relays[0].lease_name == "relay:reporting" and relays[1].lease_name == "relay:reporting:inspections"
    assert relays[1].load_state().position >= 2  # its own position rows, by its topic
    db.close()
