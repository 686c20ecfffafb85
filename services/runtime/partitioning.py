"""Which partition an aggregate's events go to while a topic's partition count grows.

Order per aggregate needs every event of an aggregate in one partition, for ever (a refill too). So the relay
records, with its position, each partition count it has used and from which notification on (``PartitionPlan``):
an aggregate is hashed by the count in force when its *first* event was stored, whatever the count is now. New
aggregates spread over every partition; old ones stay where they were. Each message carries the count its key
was hashed by in the ``baoxue_partitions`` header, so a consumer can tell a misrouted copy from a real message.

A count that grew by a multiple gives each new partition ``p`` one *parent*, ``p mod n_old``, where its keys were
before (``growth``): the relay heads the first message it puts on a new partition (and each aggregate's first event
placed there) with the parent and the last sequence it put on the parent before the switch
(``ce_partitionparent``/``ce_parentsequence``), and the consumer holds that message until the parent is applied
that far (services/runtime/README.md, *Partition-count changes*).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PartitionPlan:
    """``steps``: (after notification id, partition count) ascending; the first step is (0, the first count)."""

    steps: tuple[tuple[int, int], ...]

    @classmethod
    def single(cls, partitions: int) -> "PartitionPlan":
        return cls(((0, partitions),))

    @classmethod
    def from_json(cls, value: Any) -> "PartitionPlan | None":
        if not value:
            return None
        return cls(tuple((int(after), int(count)) for after, count in value))

    def to_json(self) -> list[list[int]]:
        return [[after, count] for after, count in self.steps]

    @property
    def current(self) -> int:
        return self.steps[-1][1]

    @property
    def changed_after(self) -> int:
        """The notification id after which more than one count may apply (0: one count for everything)."""
        return next((after for after, count in self.steps[1:] if count != self.steps[0][1]), 0)

    def count_at(self, notification_id: int) -> int:
        """The count in force for an aggregate whose first event has this notification id."""
        index = bisect_left([after for after, _ in self.steps], notification_id) - 1
        return self.steps[max(0, index)][1]

    def grown(self, position: int, partitions: int) -> "PartitionPlan":
        """The plan with ``partitions`` in force for aggregates first stored after ``position`` (never fewer)."""
        if partitions <= self.current:
            return self
        after = max(position, self.steps[-1][0])
        if after == 0 and len(self.steps) == 1:  # nothing hashed yet
            return PartitionPlan.single(partitions)
        return PartitionPlan(self.steps + ((after, partitions),))

    def sealed(self, position: int) -> "PartitionPlan":
        """The plan noting that everything up to ``position`` was hashed by it (before a refill restarts from 0),
        so a count raised during the refill applies only to aggregates after that."""
        if position <= self.steps[-1][0]:
            return self
        return PartitionPlan(self.steps + ((position, self.current),))

    def growth(self, count: int) -> tuple[int, int] | None:
        """For the count an aggregate was hashed by: (the notification id after which that count came into force,
        the count before it), or None for the first count (no partition of it is new)."""
        for index, (after, n) in enumerate(self.steps):
            if n == count:
                return None if index == 0 else (after, self.steps[index - 1][1])
        return None


PARENT_HEADER = "ce_partitionparent"  # the partition a new partition's keys were on under the older count
PARENT_SEQUENCE_HEADER = "ce_parentsequence"  # the last sequence the relay put on that parent before the switch


def parent_of(partition: int, previous: int) -> int | None:
    """The parent of ``partition`` after a growth from ``previous`` partitions; None if it existed before."""
    return partition % previous if partition >= previous else None
