"""Two closes at the same time never wait for each other: each holds one pooled connection (its day locks) and reads
everything else it needs on that connection, so a pool as small as the number of concurrent closes is enough. (Before:
the approved leave was read on a second connection, and closes holding the whole pool waited for one another until
the pool's 30 s timeout.)"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime

import pytest

from services.attendance.adapters.day_work import PgDayWork
from services.attendance.tests.test_close_snapshots_postgres import started
from services.attendance.tests.test_postgres import new_school
from services.runtime.clock import CHINA

pytestmark = pytest.mark.integration

META = {"actor_id": "officer-1", "actor_role": "county_officer", "jurisdiction": "520102", "correlation_id": "c-1"}
MON = date(2025, 9, 22)


@pytest.fixture(scope="module")
def service(database_url):
    yield from started(database_url, datetime(2025, 9, 22, 20, 0, tzinfo=CHINA), db_pool_size=2)


def test_two_schools_closed_at_once_with_a_pool_of_two_connections(service, monkeypatch):
    runtime, app = service
    schools = [new_school(service, students=2) for _ in range(2)]
    both_locked = threading.Barrier(2, timeout=20)
    rolls = PgDayWork.rolls

    def rolls_once_both_hold_their_locks(self, school_ids, day):
        both_locked.wait()  # each close now holds one of the pool's two connections
        return rolls(self, school_ids, day)

    monkeypatch.setattr(PgDayWork, "rolls", rolls_once_both_hold_their_locks)
    with ThreadPoolExecutor(2) as pool:
        closed = list(pool.map(lambda school: app.close_day(school[0], MON, META), schools))
    assert [sorted(c.absent_student_ids) for c in closed] == [sorted(ids) for _, ids in schools]
