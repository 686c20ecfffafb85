"""Events stored before the rooms (topics like `services.registry.domain:Student.Enrolled`) still load, open, project
and publish: the modules moved, the stored history did not."""

from __future__ import annotations

import uuid

from eventsourcing.persistence import StoredEvent

from services.registry.adapters.keys import MemoryDataKeys
from services.registry.adapters.publishing import to_contract
from services.registry.adapters.topics import LEGACY
from services.registry.application.registry import Registry
from services.registry.application.store import RegistryApp
from services.registry.tests.stories import County, make_id

CHILD = make_id("52010220160512003")


def old_topic(topic: str) -> str:
    """The topic an event of today's classes was stored under before the rooms."""
    for legacy, cls in LEGACY.items():
        prefix = f"{cls.__module__}:{cls.__qualname__}"
        if topic.startswith(prefix):
            return legacy + topic[len(prefix):]
    return topic


def test_a_history_stored_under_the_old_topics_reads_as_before():
    keys = MemoryDataKeys()
    county = County(data_keys=keys)
    sid = county.enrol(CHILD, name="李秀英")
    county.resident(CHILD, name="李秀英")
    stored = county.app.store.recorder.select_notifications(start=1, limit=1000)
    legacy = [StoredEvent(originator_id=n.originator_id, originator_version=n.originator_version,
                          topic=old_topic(n.topic), state=n.state) for n in stored]
    assert {e.topic.split(":")[0] for e in legacy} == {"services.registry.domain", "services.registry.population"}
    before = Registry(RegistryApp(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, data_keys=keys))
    before.store.recorder.insert_events(legacy)
    student = before.registration.student(uuid.UUID(sid))
    assert (student.name, student.id_number) == ("李秀英", CHILD)  # sealed fields open: old topics are still sealed
    assert before.queries.grade_counts("520102", by="school")[0]["total"] == 1  # the read model follows them
    assert before.queries.find_children("520102", name="李秀英")[0]["student_id"] == sid
    published = [to_contract(before.store.mapper.to_domain_event(n))
                 for n in before.store.recorder.select_notifications(start=1, limit=1000)]
    assert "StudentEnrolled" in [c.event_name for c in published if c is not None]
