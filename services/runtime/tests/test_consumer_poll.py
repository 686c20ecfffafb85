"""A poll takes at once what the Kafka client has already fetched and, when it has nothing, waits only for the
first message: ``consume(n, timeout)`` waited out its whole timeout on a quiet topic (every message 0.2 s late)."""

from __future__ import annotations

from types import SimpleNamespace

from services.runtime.consumer_loop import POLL_WAIT_S, ConsumerLoop


class Client:
    """The two reads ``fetch_batch`` makes of a confluent-kafka consumer: ``fetched`` is what the client already holds,
    ``arriving`` what a blocking ``poll`` would be handed while it waits (then the rest of that fetch)."""

    def __init__(self, fetched: list[str], arriving: list[str] | None = None) -> None:
        self.fetched = list(fetched)
        self.arriving = list(arriving or [])
        self.calls: list[tuple[str, int | None, float]] = []

    def consume(self, num_messages: int, timeout: float) -> list[str]:
        self.calls.append(("consume", num_messages, timeout))
        taken, self.fetched = self.fetched[:num_messages], self.fetched[num_messages:]
        return taken

    def poll(self, timeout: float) -> str | None:
        self.calls.append(("poll", None, timeout))
        if not self.arriving:
            return None
        self.fetched += self.arriving[1:]
        first, self.arriving = self.arriving[0], []
        return first


def fetch(client: Client, batch_size: int = 3) -> list[str]:
    return ConsumerLoop.fetch_batch(SimpleNamespace(consumer=client, batch_size=batch_size))  # type: ignore[arg-type]


def test_what_the_client_already_fetched_is_taken_without_waiting():
    client = Client(["m1", "m2", "m3", "m4"])
    assert fetch(client) == ["m1", "m2", "m3"]
    assert client.calls == [("consume", 3, 0)]
    assert fetch(client) == ["m4"]  # a short batch is not held back to fill up
    assert client.calls[-1] == ("consume", 3, 0)


def test_an_idle_poll_returns_with_the_first_message_and_what_came_with_it():
    client = Client([], arriving=["m1", "m2", "m3", "m4"])
    assert fetch(client) == ["m1", "m2", "m3"]
    assert client.calls == [("consume", 3, 0), ("poll", None, POLL_WAIT_S), ("consume", 2, 0)]
    assert fetch(client) == ["m4"]


def test_nothing_to_read_waits_once_and_returns_empty():
    client = Client([])
    assert fetch(client) == []
    assert client.calls == [("consume", 3, 0), ("poll", None, POLL_WAIT_S)]


def test_a_batch_of_one_never_asks_for_zero_messages():
    client = Client([], arriving=["m1", "m2"])
    assert fetch(client, batch_size=1) == ["m1"]
    assert ("consume", 0, 0) not in client.calls
