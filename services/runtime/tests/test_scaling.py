"""Several replicas of every process: the partition plan, the fast CloudEvents encoding, scheduler claims on
PostgreSQL, and start-up that waits for a database at its connection limit."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any

import psycopg
import pytest
from cloudevents.core.bindings.kafka import to_binary_event
from cloudevents.core.v1.event import CloudEvent
from confluent_kafka import KafkaError, KafkaException

from services.runtime.bootstrap import build_runtime
from services.runtime.kafka import binary_headers, ensure_topics, event_id, message_headers
from services.runtime.partitioning import PartitionPlan, parent_of
from services.runtime.scheduling import advisory_claim, run_loop
from services.runtime.scratchdb import fresh_database
from services.runtime.settings import ServiceSettings


class _Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def _add(self, event: str, **kw: Any) -> None:
        self.lines.append((event, kw))

    info = warning = error = _add

    def bind(self, **_kw: Any) -> "_Log":
        return self


# -- partition plan ---------------------------------------------------------------------------------------------
def test_an_aggregate_keeps_the_count_in_force_when_its_first_event_was_stored() -> None:
    plan = PartitionPlan.single(6).grown(100, 24)
    assert [plan.count_at(i) for i in (1, 100, 101, 10_000)] == [6, 6, 24, 24]
    assert plan.changed_after == 100 and plan.current == 24
    assert plan.grown(200, 12) is plan  # a topic never shrinks
    assert PartitionPlan.single(6).grown(0, 24) == PartitionPlan.single(24)  # nothing hashed yet
    assert PartitionPlan.from_json(plan.to_json()) == plan and PartitionPlan.from_json(None) is None


def test_a_count_raised_during_a_refill_applies_only_after_what_was_published_before_it() -> None:
    plan = PartitionPlan.single(24).sealed(5000)
    assert plan.changed_after == 0  # one count everywhere: no look-ups
    raised = plan.grown(10, 48)  # refilling at 10
    assert [raised.count_at(i) for i in (1, 5000, 5001)] == [24, 24, 48]


# -- encoding ---------------------------------------------------------------------------------------------------
def test_a_grown_count_names_its_switch_and_the_count_before_it_and_each_new_partition_its_parent() -> None:
    plan = PartitionPlan.single(6).grown(100, 12).sealed(150).grown(200, 24)
    assert [plan.growth(n) for n in (6, 12, 24, 48)] == [None, (100, 6), (200, 12), None]
    assert [parent_of(p, 6) for p in (0, 5, 6, 11)] == [None, None, 0, 5]
    assert parent_of(23, 12) == 11


def test_event_ids_are_the_uuid5_the_relay_always_used() -> None:
    for subject in ("school-1", str(uuid.uuid4())):
        assert event_id(subject, 7) == str(uuid.uuid5(uuid.NAMESPACE_URL, f"{subject}/7"))


@pytest.mark.parametrize("when", [datetime(2026, 11, 16, 0, 30, 1, 250, tzinfo=timezone.utc),
                                  "2026-11-16T08:00:00+08:00", "2026-11-16T00:00:00Z"])
def test_headers_are_those_the_cloudevents_binding_writes(when: Any) -> None:
    attributes = {"id": "e1", "source": "/baoxue/x", "type": "cn.baoxue.x.Y.v1", "subject": "s", "time": when,
                  "aggregateversion": 3, "sequence": 9, "partitionprev": 0, "actorid": "u", "actorrole": "system",
                  "jurisdiction": "520102", "correlationid": "c", "causationid": None}
    from contracts import Envelope

    envelope = Envelope.model_validate(attributes)
    wanted = to_binary_event(CloudEvent(
        attributes={**envelope.model_dump(exclude_none=True), "datacontenttype": "application/json"}, data={}))
    assert dict(binary_headers(attributes)) == wanted.headers
    assert message_headers(*attributes.values()) == binary_headers(attributes)  # the relay's positional path


class _Future:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def result(self, timeout: float) -> None:
        if self.error:
            raise self.error


class _Admin:
    """An AdminClient stand-in: topics and their partition counts; ``grows`` False as on tansu."""

    def __init__(self, topics: dict[str, int], grows: bool = True) -> None:
        self.topics, self.grows = topics, grows

    def list_topics(self, timeout: float) -> Any:
        meta = type("M", (), {})()
        meta.topics = {n: type("T", (), {"partitions": dict.fromkeys(range(c))})() for n, c in self.topics.items()}
        return meta

    def create_topics(self, new: list, operation_timeout: float) -> dict:
        for t in new:
            self.topics[t.topic] = t.num_partitions
        return {t.topic: _Future() for t in new}

    def create_partitions(self, new: list, operation_timeout: float) -> dict:
        if not self.grows:
            return {p.topic: _Future(KafkaException(KafkaError(KafkaError._UNSUPPORTED_FEATURE))) for p in new}
        for p in new:
            self.topics[p.topic] = p.new_total_count
        return {p.topic: _Future() for p in new}


def test_ensure_topics_creates_grows_and_never_shrinks() -> None:
    admin = _Admin({"a": 6, "b": 48})
    assert ensure_topics(admin, ["a", "b", "c"], 24) == {"a": 24, "b": 48, "c": 24}  # type: ignore[arg-type]
    assert admin.topics == {"a": 24, "b": 48, "c": 24}
    assert ensure_topics(_Admin({"a": 6}, grows=False), ["a"], 24) == {"a": 6}  # type: ignore[arg-type]


# -- schedulers -------------------------------------------------------------------------------------------------
def _replica(url: str, name: str, ticks: list, stop: threading.Event, who: str,
             dead: threading.Event | None = None, parked: threading.Event | None = None) -> tuple[threading.Thread, Any]:
    """A scheduler replica on a thread; once ``dead`` is set it stops between ticks without a word (``parked``),
    as a process that died would, until its session is ended."""
    claim = advisory_claim(url, name)

    def sleep(seconds: float) -> None:
        if dead is not None and dead.is_set():
            parked.set()  # type: ignore[union-attr]
            stop.wait()
        time.sleep(seconds)

    def tick() -> None:
        ticks.append((who, "start", time.monotonic()))
        time.sleep(0.05)
        ticks.append((who, "end", time.monotonic()))

    thread = threading.Thread(target=run_loop, args=(tick,), kwargs=dict(
        should_stop=stop.is_set, logger=_Log(), interval_s=0.02, claim=claim, sleep=sleep), daemon=True)
    thread.start()
    return thread, claim


def _overlaps(ticks: list) -> bool:
    running: set[str] = set()
    for who, what, _ in sorted(ticks, key=lambda t: t[2]):
        if what == "start":
            if running:
                return True
            running.add(who)
        else:
            running.discard(who)
    return False


def test_two_schedulers_on_one_claim_never_tick_together_and_one_dying_lets_the_other_tick(database_url) -> None:
    name = f"test-{uuid.uuid4().hex[:8]}"
    ticks: list = []
    stop_a, stop_b, dead, parked = threading.Event(), threading.Event(), threading.Event(), threading.Event()
    a, claim_a = _replica(database_url, name, ticks, stop_a, "a", dead, parked)
    time.sleep(0.3)
    b, claim_b = _replica(database_url, name, ticks, stop_b, "b")
    try:
        time.sleep(1.0)
        assert {who for who, _, _ in ticks} == {"a"} and not _overlaps(ticks)  # b waits as a standby
        dead.set()  # a's process dies (between ticks); PostgreSQL ends its session, and its lock with it
        assert parked.wait(5)
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (claim_a.leadership._conn.info.backend_pid,))  # noqa: SLF001
        died = time.monotonic()
        deadline = died + 5
        while not any(who == "b" for who, _, _ in ticks) and time.monotonic() < deadline:
            time.sleep(0.02)
        first_b = min((t for who, what, t in ticks if who == "b"), default=None)
        assert first_b is not None and first_b - died < 1.0, "the standby did not take over"
        assert not _overlaps(ticks)
    finally:
        stop_a.set(), stop_b.set()
        a.join(5), b.join(5)


def test_a_scheduler_that_stops_hands_over_at_once(database_url) -> None:
    name = f"test-{uuid.uuid4().hex[:8]}"
    ticks: list = []
    stop_a, stop_b = threading.Event(), threading.Event()
    a, _ = _replica(database_url, name, ticks, stop_a, "a")
    time.sleep(0.3)
    b, _ = _replica(database_url, name, ticks, stop_b, "b")
    try:
        time.sleep(0.3)
        stop_a.set()
        a.join(5)
        time.sleep(0.5)
        assert any(who == "b" for who, _, _ in ticks) and not _overlaps(ticks)
    finally:
        stop_b.set()
        b.join(5)


# -- start-up ---------------------------------------------------------------------------------------------------
def test_a_process_started_while_postgres_refuses_connections_waits_and_then_starts(database_url, monkeypatch) -> None:
    # a database of its own: the limited role creates (and migrates) the registry schema itself, as a process does
    with fresh_database(database_url, "limited") as own:
        _started_while_refused(own, monkeypatch)


def _started_while_refused(database_url: str, monkeypatch) -> None:
    log = _Log()
    monkeypatch.setattr("services.runtime.bootstrap.configure_logging", lambda *_a, **_k: log)
    role = f"limited_{uuid.uuid4().hex[:8]}"
    dbname = database_url.rsplit("/", 1)[1]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 0')  # as full as a server at max_connections
        conn.execute(f'GRANT CREATE ON DATABASE "{dbname}" TO "{role}"')
    base = psycopg.conninfo.conninfo_to_dict(database_url)
    url = psycopg.conninfo.make_conninfo(**{**base, "user": role})

    def open_later() -> None:
        time.sleep(1.5)
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'ALTER ROLE "{role}" CONNECTION LIMIT -1')

    opener = threading.Thread(target=open_later)
    opener.start()
    runtime = None
    try:
        started = time.monotonic()
        runtime = build_runtime("registry", "api", ServiceSettings(database_url=url, env="test"))
        assert time.monotonic() - started >= 1.0
        assert runtime.db.ping()
        waits = [kw for event, kw in log.lines if event == "waiting_for_database"]
        assert waits and waits[0]["attempt"] == 1 and waits[0]["reason"] == "too_many_clients"
        assert all("password" not in str(kw).lower() for kw in waits)
    finally:
        opener.join()
        if runtime is not None:
            runtime.close()
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')


# -- API workers ------------------------------------------------------------------------------------------------
def test_two_workers_sharing_the_database_give_a_client_one_limit(database_url) -> None:
    from services.runtime.db import Database
    from services.runtime.ratelimit import RateLimited, SharedTokenBuckets

    schema = f"rl_{uuid.uuid4().hex[:8]}"
    workers = [SharedTokenBuckets(Database(database_url, schema), rate=0.001, burst=3) for _ in range(2)]
    granted = 0
    for i in range(6):
        try:
            workers[i % 2].take("system-1")
            granted += 1
        except RateLimited as exc:
            assert exc.retry_after > 0
    assert granted == 3
    workers[0].take("system-2")  # another client has its own bucket


def test_a_ttl_cache_reloads_after_its_ttl_and_stays_bounded() -> None:
    from services.runtime.ttlcache import TtlCache

    clock = {"t": 0.0}
    loads: list[str] = []
    cache: Any = TtlCache(ttl_s=10, max_entries=2, now=lambda: clock["t"])

    def load(key: str) -> str:
        loads.append(key)
        return key.upper()

    assert cache.get("a", load) == "A" and cache.get("a", load) == "A" and loads == ["a"]
    clock["t"] = 11
    cache.get("a", load)
    cache.get("b", load), cache.get("c", load)  # "a" is the least recently used: dropped
    cache.get("a", load)
    assert loads == ["a", "a", "b", "c", "a"]
