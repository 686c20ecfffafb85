"""The fault campaign (`--faults`): SIGKILL and restart every service process, restart the broker (it loses
every topic) and PostgreSQL, pause a consumer, replay duplicate and late deliveries, inject poison messages;
afterwards, the poison must sit in the dead-letter topics and be counted in the consumers' metrics."""

from __future__ import annotations

import re
import time
import uuid
from datetime import date
from typing import Any

import httpx
from confluent_kafka import Consumer, Producer, TopicPartition

from contracts import topics
from devstack.harness import LocalStack
from simulator.truth import Row

POISONED = (topics.REGISTRY, topics.ATTENDANCE, topics.CASEWORK)
SUBSCRIPTIONS = {  # consumer name -> (service, topics it reads), as each service's bootstrap subscribes it
    "attendance": ("attendance", (topics.REGISTRY,)),
    "casework": ("casework", (topics.ATTENDANCE, topics.REGISTRY)),
    "notifications": ("notifications", (topics.REGISTRY, topics.ATTENDANCE, topics.CASEWORK)),
    "reporting": ("reporting", (topics.REGISTRY, topics.ATTENDANCE, topics.CASEWORK)),
}


class FaultCampaign:
    """Hooks the simulation calls at fixed points of a school day; each fault happens once, on a planned day."""

    def __init__(self, local: LocalStack, days: int, log: Any = print) -> None:
        self.local = local
        self.stack = local.stack
        self.log = log
        self.tag = uuid.uuid4().hex[:8]
        names = sorted(self.stack.procs)  # type: ignore[union-attr]
        last = max(2, int(days * 0.7))
        self.kills: dict[int, list[str]] = {}
        for i, name in enumerate(names):  # every process once, spread over school days 1 .. 70 % of the term
            self.kills.setdefault(1 + i % (last - 1), []).append(name)
        self.broker_days = {max(1, days // 3), last}  # once mid-run, once after every process was restarted
        self.postgres_day = max(2, days // 2)
        self.pause_day = max(1, days // 4)
        self.duplicate_day = max(3, int(days * 0.75))
        self.poison_day = min(days - 1, max(4, int(days * 0.8)))
        self.late_day = days - 1
        self.held: list[tuple[str, bytes | None, bytes | None, list]] = []
        self.done: list[str] = []

    # -- hooks ------------------------------------------------------------------------------------
    def morning(self, sim: Any, n: int, day: date) -> None:
        if n == self.late_day and self.held:
            self.produce(self.held)
            self.done.append(f"{len(self.held)} late deliveries ({day})")
            self.held = []

    def after_checkins(self, sim: Any, n: int, day: date) -> None:
        if n == self.postgres_day:
            self.local.restart_postgres()
            self.done.append(f"PostgreSQL SIGKILLed and restarted ({day})")
        if n == self.pause_day:
            self.stack.suspend("casework-consumer")  # type: ignore[union-attr]
            self._paused_at = time.monotonic()

    def after_close(self, sim: Any, n: int, day: date) -> None:
        stack = self.stack
        assert stack is not None
        if n == self.pause_day:
            time.sleep(max(0.0, 3 - (time.monotonic() - self._paused_at)))
            stack.resume("casework-consumer")
            self.done.append(f"casework consumer paused across a day close ({day})")
        for name in self.kills.get(n, []):
            stack.restart(name)
            self.done.append(f"SIGKILL + restart {name} ({day})")
        if n in self.broker_days:
            self.local.restart_broker()
            self.done.append(f"broker restarted, all topics lost ({day})")
        if n == self.duplicate_day:
            copies = self.read(topics.ATTENDANCE, 200) + self.read(topics.CASEWORK, 200) + self.read(topics.REGISTRY, 50)
            self.produce(copies)
            self.held = copies[::3]
            self.done.append(f"{len(copies)} duplicate deliveries ({day})")
        if n == self.poison_day:
            poison = [(t, f"poison-{self.tag}-{i}".encode(), b"\x00not a cloudevent" + bytes([i]), [("oops", b"1")])
                      for i, t in enumerate(POISONED)]
            self.produce(poison)
            self.done.append(f"{len(poison)} poison messages ({day})")
        if any(name.endswith("-api") for name in self.kills.get(n, [])):
            sim.api.wait_ready()

    # -- Kafka ------------------------------------------------------------------------------------
    def read(self, topic: str, limit: int) -> list[tuple[str, bytes | None, bytes | None, list]]:
        consumer = Consumer({"bootstrap.servers": self.local.broker.bootstrap, "group.id": f"sim-{uuid.uuid4().hex}",
                             "enable.auto.commit": False, "log_level": 0})
        try:
            meta = consumer.list_topics(topic, timeout=10).topics[topic]
            consumer.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
            out: list = []
            deadline = time.monotonic() + 10
            while len(out) < limit and time.monotonic() < deadline:
                msg = consumer.poll(0.5)
                if msg is None:
                    if out:
                        break
                    continue
                if msg.error():
                    continue
                out.append((topic, msg.key(), msg.value(), msg.headers() or []))
            return out
        finally:
            consumer.close()

    def produce(self, messages: list[tuple[str, bytes | None, bytes | None, list]]) -> None:
        producer = Producer({"bootstrap.servers": self.local.broker.bootstrap, "log_level": 0})
        for topic, key, value, headers in messages:
            producer.produce(topic, key=key, value=value, headers=headers)
        producer.flush(30)

    def dead_letters(self, consumer: str) -> int:
        """Poison messages of this campaign in the consumer's dead-letter topic."""
        return sum(1 for _, key, _, _ in self.read(topics.dead_letter(consumer), 10_000)
                   if key and key.decode(errors="replace").startswith(f"poison-{self.tag}"))

    # -- checks ---------------------------------------------------------------------------------
    def rows(self) -> list[Row]:
        stack = self.stack
        assert stack is not None
        rows = []
        for consumer, (service, follows) in SUBSCRIPTIONS.items():
            want = sum(1 for t in POISONED if t in follows)
            rows.append(Row("dead letters", consumer, "poison in dead-letter topic", want, self.dead_letters(consumer)))
            counted = None  # summed over the consumer's copies: whichever held the partitions dead-lettered them
            for url in stack.metrics_urls(service, "consumer"):
                try:
                    text = httpx.get(url, timeout=10).text
                except httpx.HTTPError:
                    continue
                counted = (counted or 0) + sum(float(m) for m in re.findall(
                    r'^baoxue_dead_lettered_total\{[^}]*consumer="' + consumer + r'"[^}]*reason="invalid_envelope"[^}]*\} (\S+)',
                    text, re.M))
            rows.append(Row("metrics", consumer, "baoxue_dead_lettered_total (invalid_envelope)", want,
                            None if counted is None else int(counted)))
        rows.append(Row("faults", "stack", "processes that died on their own", {}, stack.unclean_exits()))
        return rows
