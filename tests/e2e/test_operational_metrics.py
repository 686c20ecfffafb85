"""The metrics the deploy/k8s alerts and dashboards use, read from the real processes after a scenario: check-ins
counted once per stored row, the day closes the scheduler leaves overdue, open cases per county and overdue next
steps in casework, and every process's view of its database and broker — then the broker stops: the APIs stay
ready (they never use it) while the relays report it gone."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.runtime.testing import auth
from tests.e2e.harness import running_stack, wait_until
from tests.e2e.test_walking_skeleton import check_in, school_with_roster

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

COUNTY = auth("county_officer", "520102", user_id="county-officer-1")
MON, TUE = date(2026, 11, 16), date(2026, 11, 17)


def samples(url: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a /metrics page, keyed by name and labels (empty when the process does not answer)."""
    try:
        text = httpx.get(url, timeout=5).text
    except httpx.HTTPError:
        return {}
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(url: str, name: str, **labels: str) -> float | None:
    return samples(url).get((name, frozenset(labels.items())))


def test_the_alerting_metrics_carry_the_scenario(database_url, tmp_path):
    with running_stack(database_url, tmp_path) as stack:
        att = stack.url("attendance")
        school_id, students = school_with_roster(stack, "OPS-001", "观山湖区第二小学", timeout=60)
        gate = auth("attendance_system", "520102", user_id="gate-vendor-1", schools=[school_id])
        for day in (MON, TUE):
            assert check_in(stack, school_id, day, students[:2], gate).status_code == 200
            if day == MON:  # the gate resends its batch: accepted, nothing new stored
                assert check_in(stack, school_id, day, students[:2], gate).json()["accepted"] == 0
            r = httpx.post(f"{att}/v1/schools/{school_id}/days/{day}/close", headers=COUNTY, timeout=60)
            assert r.status_code == 200, r.text

        api = f"{att}/metrics"
        assert value(api, "baoxue_checkins_recorded_total", service="attendance") == 4  # 2 children x 2 days

        # casework's scheduler counts the opened case under its county (refreshed every 30 s)
        casework = stack.metrics_url("casework", "scheduler")
        assert wait_until(lambda: value(casework, "baoxue_cases_open", service="casework", county="520102") == 1,
                          timeout=120), (samples(casework), stack.log_tail("casework-scheduler"))
        assert value(casework, "baoxue_case_deadlines_overdue", service="casework") == 0  # due in days, not yet
        # attendance's scheduler closed today's roll past the cut-off (or found nothing due): nothing overdue
        scheduler = stack.metrics_url("attendance", "scheduler")
        assert wait_until(lambda: value(scheduler, "baoxue_day_closes_overdue", service="attendance") == 0,
                          timeout=90), stack.log_tail("attendance-scheduler")
        assert value(scheduler, "baoxue_dependency_up", service="attendance", role="scheduler",
                     dependency="database") == 1
        assert not any(k[0] == "baoxue_dependency_up" and ("dependency", "broker") in k[1]
                       for k in samples(scheduler))  # a scheduler has no broker

        relay = stack.metrics_url("attendance", "relay")
        for dependency in ("database", "broker"):
            assert value(relay, "baoxue_dependency_up", service="attendance", role="relay",
                         dependency=dependency) == 1, dependency
        consumer = stack.metrics_url("casework", "consumer")
        assert value(consumer, "baoxue_dependency_up", service="casework", role="consumer", dependency="broker") == 1

        # the broker goes away: the APIs stay ready and say the database is up, the relays see it gone
        stack.broker.stop()
        for service in ("registry", "attendance", "casework", "notifications", "reporting"):
            r = httpx.get(f"{stack.url(service)}/readyz", timeout=10)
            assert r.status_code == 200 and r.json()["checks"] == {"database": True}, (service, r.text)
        assert value(api, "baoxue_dependency_up", service="attendance", role="api", dependency="database") == 1
        assert wait_until(lambda: value(relay, "baoxue_dependency_up", service="attendance", role="relay",
                                        dependency="broker") == 0, timeout=60), samples(relay)
        assert value(relay, "baoxue_dependency_up", service="attendance", role="relay", dependency="database") == 1
