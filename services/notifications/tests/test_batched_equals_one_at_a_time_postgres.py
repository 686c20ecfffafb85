"""The notifications consumer's batch path has the effects of applying its messages one at a time: the same messages
through ``EventSink.apply`` (one transaction each) and ``EventSink.apply_batch`` (a unit of work per poll, its
aggregates prefetched in one query, its events inserted in one statement) leave the same events, aggregate by
aggregate and version by version, the same contact rows (the lookup table written in the events' transaction), the
same positions and the same messages handed to the channel."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import pytest
from psycopg import sql

from contracts.events.registry import StudentErasedV1
from services.notifications.adapters.channels import FileChannel
from services.notifications.application import NotificationsApp
from services.notifications.application.policies import NotificationPolicies
from services.notifications.entrypoints.consumers import policies as consumer_policies
from services.notifications.settings import NotificationsSettings
from services.notifications.tests.builders import (
    NOW,
    TOWNSHIP,
    case_opened,
    deadline_passed,
    enrolled,
    escalated,
    owners_assigned,
    suspected_dropout,
)
from services.runtime.clock import FixedClock
from services.runtime.consumer import EventSink, Message
from services.runtime.eventstore import build_application
from services.runtime.testing import message

pytestmark = pytest.mark.integration


@pytest.fixture
def stores(database_url, tmp_path):
    """Three stores of their own (fresh schemas), each with its own channel: one at a time, small batches, one
    batch of all."""
    settings = NotificationsSettings(database_url=database_url, env="test", data_dir=tmp_path)
    opened = []
    for n in range(3):
        app = build_application(NotificationsApp, settings, f"notifications_eq_{uuid.uuid4().hex[:10]}")
        channel = FileChannel(tmp_path / f"store-{n}", FixedClock(NOW).now)
        opened.append((app, consumer_policies(NotificationPolicies(app, channel, FixedClock(NOW))), channel))
    yield opened
    for app, _, _ in opened:
        app.close()


def story() -> list[tuple[str, Message]]:
    """Onboarding (enrolments, one redelivered, one changed, one with no head teacher yet), then a case opened
    before its student's enrolment (it waits, then goes out), cases, owners, a deadline, a legal step, an erasure
    and the enrolment replayed after it."""
    s = [str(uuid.uuid4()) for _ in range(6)]
    seq: dict[str, int] = {}
    case_0, case_5 = str(uuid.uuid4()), str(uuid.uuid4())

    def at(payload: Any) -> tuple[str, Message]:
        track = f"notifications:{payload.topic}:0"
        seq[track] = seq.get(track, 0) + 1
        return track, message(payload, subject=getattr(payload, "student_id", None), sequence=seq[track],
                              time=NOW, correlationid=f"c-{track}-{seq[track]}")

    return [
        *(at(enrolled(student, head_teacher_id=f"teacher-{n}")) for n, student in enumerate(s[:4])),
        at(enrolled(s[4], head_teacher_id=None)),
        at(enrolled(s[1], head_teacher_id="teacher-1")),  # redelivered: nothing changes
        at(enrolled(s[3], head_teacher_id="teacher-new")),  # the class changed hands
        at(case_opened(s[5], case_5)),  # no enrolment yet: the notice waits for a head teacher
        at(case_opened(s[0], case_0)),
        at(case_opened(s[0], case_0)),  # the same trigger again: already requested
        at(enrolled(s[5], head_teacher_id="teacher-5")),  # the waiting notice goes out
        at(suspected_dropout(s[1])),
        at(owners_assigned(case_0, ("head_teacher", "teacher-0", None), ("township", "twp-li", None))),
        at(deadline_passed(case_0)),
        at(escalated(case_0, s[0])),
        at(StudentErasedV1(student_id=s[2], township_code=TOWNSHIP, legal_basis="consent_withdrawn",
                           erased_on=date(2025, 10, 1))),
        at(enrolled(s[2], head_teacher_id="teacher-2")),  # replayed after the erasure: the name is not learnt
        at(case_opened(s[2])),
    ]


def recorded(app: NotificationsApp) -> dict[uuid.UUID, list[tuple[int, str, dict[str, Any]]]]:
    """Every stored event of the store, by aggregate: version, type and state (less the wall-clock timestamp)."""
    found: dict[uuid.UUID, list[tuple[int, str, dict[str, Any]]]] = {}
    for stored in app.recorder.select_notifications(start=1, limit=100_000):
        event = app.mapper.to_domain_event(stored)
        state = {k: v for k, v in event.__dict__.items() if k != "timestamp"}
        found.setdefault(event.originator_id, []).append((event.originator_version, type(event).__qualname__, state))
    return found


def contacts(app: NotificationsApp) -> dict[str, Any]:
    """Every row of the store's contacts table."""
    with app.recorder.datastore.get_connection() as conn:
        keys = [r["student_id"] for r in conn.execute(
            sql.SQL("SELECT student_id FROM {}").format(app.contacts.qualified())).fetchall()]
        return {key: row for key, (row, _version) in app.contacts.select(conn, keys).items()}


def sent(channel: FileChannel) -> list[dict[str, Any]]:
    return [json.loads(line) for line in channel.path.read_text(encoding="utf-8").splitlines()] \
        if channel.path.exists() else []


def test_a_batched_poll_leaves_the_events_positions_and_messages_of_one_message_at_a_time(stores):
    messages = story()
    (one, one_policies, one_channel), *batched = stores
    for track, msg in messages:
        assert EventSink(one).apply(track, msg.envelope.sequence, one_policies[type(msg.payload)], msg) is True
    for (app, bound, _), size in zip(batched, (4, len(messages))):
        items = [(track, msg.envelope.sequence, bound[type(msg.payload)], msg) for track, msg in messages]
        for start in range(0, len(items), size):
            EventSink(app).apply_batch(items[start:start + size])

    expected = recorded(one)
    assert len(expected) >= 8 and sum(map(len, expected.values())) >= 15  # the story did things
    assert len(sent(one_channel)) >= 3
    rows = contacts(one)
    assert len(rows) == 6 and not any("StudentContact" in kind for events in expected.values() for _, kind, _ in events)
    assert all(not row.pending for row in rows.values())  # the waiting notice went out when its teacher came
    assert [row.name_masked for row in rows.values() if row.erased] == [None]  # not learnt again after the erasure
    for app, _, channel in batched:
        got = recorded(app)
        assert got.keys() == expected.keys()
        for aggregate_id, events in expected.items():
            assert [(v, t) for v, t, _ in got[aggregate_id]] == [(v, t) for v, t, _ in events], aggregate_id
            for (version, kind, state), (_, _, state_got) in zip(events, got[aggregate_id]):
                differ = {k: (state.get(k), state_got.get(k)) for k in state.keys() | state_got.keys()
                          if state.get(k) != state_got.get(k)}
                assert differ == {}, (kind, version)
        assert contacts(app) == rows
        for track in {track for track, _ in messages}:
            assert app.last_tracked(track) == one.last_tracked(track)
        assert sent(channel) == sent(one_channel)
