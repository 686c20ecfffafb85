"""The helpers every service shares: one error map, load/save with retries, the scheduler loop."""

from __future__ import annotations

from typing import Any

import pytest
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from fastapi.testclient import TestClient

from services.runtime.access import Public, RoleMatrix
from services.runtime.aggregates import load, require, save_with_retry
from services.runtime.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from services.runtime.metrics import Metrics
from services.runtime.scheduling import run_loop
from services.runtime.web import create_base_app


class _Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def info(self, event: str, **kw: Any) -> None:
        self.lines.append((event, kw))

    warning = info


class DayClosed(Conflict):
    code = "day_closed"


@pytest.mark.parametrize(("error", "status"), [(InvalidInput, 422), (Conflict, 409), (NotFound, 404),
                                               (Forbidden, 403), (DayClosed, 409)])
def test_a_domain_error_is_answered_with_its_own_status_code_and_rule(error: type[DomainError], status: int) -> None:
    app = create_base_app(service="errors-test", title="t", description="d", metrics=Metrics("errors-test"),
                          logger=_Log(), token_codec=None, clock=None, readiness={},
                          role_matrix=RoleMatrix({"GET /boom": Public("a test route")}))

    @app.get("/boom")
    def boom() -> None:
        raise error("不行", rule="some_rule")

    answer = TestClient(app).get("/boom")
    assert answer.status_code == status
    assert answer.json()["detail"] == {"code": error.code, "message": "不行", "rule": "some_rule"}


class _Repo:
    def __init__(self, items: dict[Any, Any]) -> None:
        self.items = items

    def get(self, aggregate_id: Any, version: int | None = None) -> Any:
        if aggregate_id not in self.items:
            raise AggregateNotFoundError(aggregate_id)
        return self.items[aggregate_id]


def test_load_gives_none_for_a_missing_id_or_another_type_and_require_raises_the_callers_error() -> None:
    repo = _Repo({1: "a string", 2: 42})
    assert load(repo, str, 1) == "a string"
    assert load(repo, str, 2) is None
    assert load(repo, str, 3) is None
    with pytest.raises(NotFound, match="学校"):
        require(repo, str, 3, lambda: NotFound("学校不存在"))


def test_a_concurrent_write_makes_the_attempt_start_again_and_the_last_conflict_is_a_409() -> None:
    attempts: list[int] = []

    def save(_result: Any) -> None:
        if len(attempts) < 3:
            raise IntegrityError("version conflict")

    assert save_with_retry(lambda: attempts.append(1) or len(attempts), save) == 3
    with pytest.raises(Conflict):
        save_with_retry(lambda: 1, lambda _r: (_ for _ in ()).throw(IntegrityError("again")), attempts=2)


def test_the_scheduler_loop_outlives_a_failing_tick_and_logs_start_work_and_stop() -> None:
    ticks = iter([RuntimeError("database down"), 3, 0])
    done: list[Any] = []
    log = _Log()

    def tick() -> Any:
        value = next(ticks)
        if isinstance(value, Exception):
            raise value
        return value

    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    run_loop(tick, should_stop=should_stop, logger=log, interval_s=0.0, sleep=lambda _s: None, done=done.append,
             hour=2)
    assert done == [3, 0]
    assert [event for event, _ in log.lines] == ["scheduler_started", "scheduler_retrying", "scheduler_stopped"]
    assert log.lines[0][1] == {"interval_s": 0.0, "hour": 2}


def test_the_scheduler_loop_counts_its_ticks_by_outcome_and_stamps_the_last_good_one() -> None:
    metrics = Metrics("loop-test")
    ticks = iter([RuntimeError("down"), 1])

    def tick() -> Any:
        value = next(ticks)
        if isinstance(value, Exception):
            raise value
        return value

    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 2

    run_loop(tick, should_stop=should_stop, logger=_Log(), interval_s=0.0, sleep=lambda _s: None, metrics=metrics)
    text = metrics.render().decode()
    assert 'baoxue_scheduler_ticks_total{outcome="ok",service="loop-test"} 1.0' in text
    assert 'baoxue_scheduler_ticks_total{outcome="failed",service="loop-test"} 1.0' in text
    assert 'baoxue_scheduler_last_tick_timestamp_seconds{service="loop-test"}' in text
