"""The directory and the delivery records on PostgreSQL: a CSV import delivers what waited, readers see their
jurisdiction (and people who are told, their own), and the consumer and an import racing settle without loss."""

from __future__ import annotations

import uuid
from functools import partial

import pytest
from eventsourcing.persistence import IntegrityError, Tracking
from fastapi.testclient import TestClient

from services.notifications.adapters.channels import FileChannel
from services.notifications.adapters.projections import PostgresRecords, Query
from services.notifications.application import NotificationsApp
from services.notifications.application.policies import NotificationPolicies
from services.notifications.bootstrap import api
from services.notifications.entrypoints.consumers import policies as consumer_policies
from services.notifications.settings import NotificationsSettings
from services.notifications.tests.builders import (
    NOW,
    case_opened,
    enrolled,
    owners_assigned,
    suspected_dropout,
)
from services.runtime.clock import FixedClock
from services.runtime.consumer import EventSink
from services.runtime.db import Database
from services.runtime.eventstore import build_application
from services.runtime.testing import auth, message

pytestmark = pytest.mark.integration
TOWNSHIP = "520103004"  # a county of its own, so the other PostgreSQL module's rows never mix in
COUNTY = TOWNSHIP[:6]
CSV = (
    "jurisdiction_code,role,user_id,name,address\n"
    f"{TOWNSHIP},township_officer,twp-ma,马丽,13900000001\n"
    f"{COUNTY},county_officer,cty-he,何平,13900000002\n"
)


@pytest.fixture(scope="module")
def settings(database_url, tmp_path_factory):
    return NotificationsSettings(database_url=database_url, env="test", data_dir=tmp_path_factory.mktemp("var"))


@pytest.fixture(scope="module")
def store(settings):
    db = Database(settings.database_url, "notifications", size=2)
    app = build_application(partial(NotificationsApp, records=PostgresRecords(db)), settings, "notifications")
    yield app
    db.close()


@pytest.fixture(scope="module")
def consumer(store, settings):
    clock = FixedClock(NOW)
    channel = FileChannel(settings.data_dir, clock.now)
    return EventSink(store), consumer_policies(NotificationPolicies(store, channel, clock)), channel


@pytest.fixture(scope="module")
def client(settings):
    app, runtime = api(settings)
    with TestClient(app) as c:
        yield c
    runtime.close()


def deliver(store, consumer, payload) -> bool:
    sink, policies, _ = consumer
    track = f"notifications:{payload.topic}:0"
    sequence = store.last_tracked(track) + 1
    return sink.apply(track, sequence, policies[type(payload)], message(payload, sequence=sequence))


def here(payload):
    return payload.model_copy(update={"township_code": TOWNSHIP})


def test_a_csv_import_delivers_the_waiting_report_and_readers_see_their_own(store, consumer, client):
    student = str(uuid.uuid4())
    deliver(store, consumer, here(enrolled(student)))
    deliver(store, consumer, here(suspected_dropout(student)))
    county = auth("county_officer", COUNTY)
    pending = client.get("/v1/notifications", params={"status": "pending"}, headers=county).json()
    assert {p["recipient_role"] for p in pending} == {"township_officer", "county_officer"}

    r = client.post("/v1/recipients/import", content=CSV.encode(), headers={**county, "content-type": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.json() == {"listed": 2, "unlisted": 0, "delivered": 2}
    sent = client.get("/v1/notifications", params={"status": "sent"}, headers=county).json()
    assert {s["recipient_id"] for s in sent} == {"twp-ma", "cty-he"}
    _, _, channel = consumer
    outbox = [x for x in channel.lines() if x["recipient_id"] in ("twp-ma", "cty-he")]
    assert sorted(x["template"] for x in outbox) == ["suspected_dropout_county", "suspected_dropout_township"]

    other_county = client.get("/v1/notifications", headers=auth("county_officer", "520102")).json()
    assert not any(n["township_code"].startswith(COUNTY) for n in other_county)
    mine = client.get("/v1/notifications", headers=auth("head_teacher", TOWNSHIP, user_id="twp-ma")).json()
    assert {n["recipient_id"] for n in mine} == {"twp-ma"}
    listed = client.get("/v1/recipients", params={"county_code": COUNTY}, headers=county).json()
    assert {r["user_id"] for r in listed} == {"twp-ma", "cty-he"}


def test_an_owner_sees_their_assignment_and_a_bad_import_is_refused(store, consumer, client):
    student = str(uuid.uuid4())
    case = here(case_opened(student))
    deliver(store, consumer, here(enrolled(student)))
    deliver(store, consumer, case)
    deliver(store, consumer, here(owners_assigned(case.case_id, ("village", "cadre-tian", None))))
    mine = client.get("/v1/notifications", params={"case_id": case.case_id},
                      headers=auth("village_cadre", TOWNSHIP, user_id="cadre-tian")).json()
    assert [(n["template"], n["status"]) for n in mine] == [("owner_assigned", "sent")]
    everyone = client.get("/v1/notifications", params={"case_id": case.case_id}, headers=auth("county_officer", COUNTY))
    assert {n["template"] for n in everyone.json()} == {"owner_assigned", "case_opened_head_teacher"}

    county = auth("county_officer", COUNTY)
    bad = client.post("/v1/recipients/import", json={"recipients": [{"jurisdiction_code": TOWNSHIP, "role": "mayor",
                                                                     "user_id": "x", "name": "某"}]}, headers=county)
    assert bad.status_code == 422 and bad.json()["detail"]["rule"] == "directory_role"
    outside = client.post("/v1/recipients/import", json=[{"jurisdiction_code": "520102001", "role": "township_officer",
                                                          "user_id": "x", "name": "某"}], headers=county)
    assert outside.status_code == 403
    assert client.post("/v1/recipients/import", json=[], headers=auth("head_teacher", COUNTY)).status_code == 403


def test_a_report_racing_an_import_is_neither_lost_nor_doubled(store, consumer, client):
    """The consumer finds nobody and parks the report while an import names someone: its save conflicts, the
    loop retries, and the named officer is told once."""
    township = "520104001"
    sink, policies, channel = consumer
    report = suspected_dropout(str(uuid.uuid4())).model_copy(update={"township_code": township})
    track = f"notifications:{report.topic}:0"
    sequence = store.last_tracked(track) + 1
    msg = message(report, sequence=sequence)
    parked = policies[type(report)](msg)  # nobody named yet: the report waits in the county directory

    r = client.put(f"/v1/recipients/township_officer/{township}/twp-race", json={"name": "田野"},
                   headers=auth("county_officer", township[:6]))
    assert r.json() == {"listed": 1, "unlisted": 0, "delivered": 0}
    with pytest.raises(IntegrityError):
        store.save_tracked(*parked, tracking=Tracking(track, sequence))

    assert sink.apply(track, sequence, policies[type(report)], msg) is True  # the loop's retry
    views = store.search(Query(prefix=township, template="suspected_dropout_township"))
    assert [(v.status, v.recipient_id) for v in views] == [("sent", "twp-race")]
    assert [x["recipient_id"] for x in channel.lines() if x["template"] == "suspected_dropout_township"].count(
        "twp-race") == 1
