"""Every reporting projection is total: any value the command side could publish is applied, never dead-lettered —
separators, quotes, backslashes, SQL and CSV metacharacters, long strings in free text and owner ids."""

from __future__ import annotations

import dataclasses

import pytest

from datetime import datetime, timezone

from fastapi.testclient import TestClient

from contracts.events.casework import CaseOwnersAssignedV1, OwnerChange
from bench.reporting import synthetic
from services.reporting.bootstrap import api
from services.reporting.settings import ReportingSettings
from services.runtime.clock import FixedClock
from services.runtime.testing import ODD_TEXTS, auth, odd_variant

pytestmark = pytest.mark.integration
PROVINCE = auth("province_officer", "52")


@pytest.fixture(scope="module")
def client(database_url, tmp_path_factory):
    settings = ReportingSettings(database_url=database_url, env="test", data_dir=tmp_path_factory.mktemp("var"))
    app, runtime = api(settings, clock=FixedClock(datetime(2026, 3, 1, 4, 0, tzinfo=timezone.utc)))
    with TestClient(app) as c:
        yield c
    runtime.close()


def test_a_history_with_odd_values_in_every_free_text_field_is_applied_whole(feed, reporting_db):
    events = list(synthetic.history(seed=7, prefectures=1, counties=1, townships=2, schools=2, students=10))
    odd = [dataclasses.replace(g, payload=odd_variant(g.payload, i)) for i, g in enumerate(events)]
    changed = sum(o.payload != g.payload for o, g in zip(odd, events))
    assert changed > len(events) // 3  # most events carry free text or owners
    feed.history(odd)  # raises (a dead letter in the consumer loop) if any policy cannot apply its message
    with reporting_db.transaction() as conn:
        assert conn.execute("SELECT count(*) AS n FROM ledger").fetchone()["n"] > 0


def test_an_owner_id_with_separators_survives_later_owner_changes_of_the_case(client, feed):
    township = "520102001"
    school = feed.school(township, name=ODD_TEXTS[2])
    case = feed.case(feed.student(school, township), school, township)
    at = case.opened_at
    for n, user in enumerate(("gov;1=x", "gov-2", "a%3Bb;")):
        feed.deliver(CaseOwnersAssignedV1(case_id=case.case_id, township_code=township, automatic=n == 0,
                                          assigned_at=at, owners=[
            OwnerChange(slot="township", line="government", user_id=user),
            OwnerChange(slot="village", line="government", user_id=f"v;{n}")]))
        row = next(r for r in client.get("/v1/ledgers/cases", headers=PROVINCE).json()["items"]
                   if r["case_id"] == case.case_id)
        assert row["gov_owners_display"] == f"政府线 乡镇干部：{user}、村干部：v;{n}"
