"""A standby relay that takes over after the broker lost its data and the old leader already refilled it: its
producer was made for the lost cluster, so it must not publish through it (simulator/README.md: the 2026-12-08
faults-with-replicas runs lost the events a standby published in that window)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import date

import pytest

from tests.runtime.test_relay_consumer import Harness, id_number, read_all

pytestmark = pytest.mark.integration


def drain(relay) -> None:
    """The relay leads, checks the broker and publishes everything, as one pass of ``Relay.run``."""
    assert relay.acquire_leadership()
    state = relay.check_broker(relay.load_state())
    while state.position < relay.app.recorder.max_notification_id():
        state = relay.publish_batch(state)
    relay.settle(drain=True)


def test_a_standby_made_before_the_broker_lost_its_data_publishes_every_event_when_it_takes_over(
        database_url, broker):
    h = Harness(database_url, broker.bootstrap)
    h.enrol(30)
    standby = h.relay()  # made first (in this order tansu drops the old producer's messages, never times them out)
    standby.producer.list_topics(timeout=10)
    time.sleep(1)
    leader = h.relay()
    try:
        drain(leader)
        assert not standby.acquire_leadership()
        broker.stop()  # the broker comes back empty, with a new cluster id
        broker.start()
        drain(leader)  # the leader notices the new cluster and refills it from the first event
        refilled = leader.load_state()
        assert refilled.position == h.store.recorder.max_notification_id()
        leader.leadership.release()  # the leader goes (SIGKILLed in the simulation); the standby takes over
        school, _ = h.app.registration.register_school(  # events only the standby can publish
            code="S2", name="二小", level="primary", county_code="520102", township_code="520102001", meta={})
        for i in range(100, 106):
            h.app.registration.enrol_student(today=date(2026, 11, 2), meta={}, id_number=id_number(i), name=f"学生{i}",
                                             birth_date=date(2015, 3, 1), school_id=school.school_id, grade=5,
                                             class_name="5-1")
        drain(standby)
        last = h.store.recorder.max_notification_id()
        assert standby.load_state().position == last
        published = Counter(int(dict(m.headers())["ce_sequence"]) for m in
                            read_all(broker.bootstrap, h.topic, h.partitions, timeout=5))
        missing = [n.id for n in h.store.recorder.select_notifications(start=refilled.position + 1, limit=100)
                   if n.id not in published]
        assert not missing, f"acknowledged but not on the broker: {missing}"
    finally:
        for relay in (leader, standby):
            relay.leadership.release()
