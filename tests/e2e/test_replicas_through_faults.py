"""Issue 16's end-to-end check, in the default suite (`make test`): a tiny term run by `baoxue simulate` on a stack
of its own with three copies of every consumer (sharing their partitions by leases) and two of every API, relay and
scheduler; the fault campaign SIGKILLs and restarts each copy of each process mid-run, restarts the broker (it
comes back empty, with a new cluster id) and PostgreSQL, replays duplicate and late deliveries and injects poison
messages; the command exits 0 only when every figure it reports equals the ground truth: nothing lost, nothing
doubled. (The same term without replicas is in tests/simulator, run by `make test-simulation`.)"""

import pytest
from typer.testing import CliRunner

from simulator.cli import app

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1500)]
# the size tests/simulator/test_simulate.py uses: a stress-level dropout hazard runs every casework path
TINY = ["--counties", "2", "--schools-per-county", "2", "--students", "400", "--days", "14", "--dropout-hazard", "0.0015"]


def test_a_tiny_term_with_replicas_of_every_process_reconciles_through_the_faults():
    """Issue 16: three copies of every consumer (sharing its partitions by leases) and two of every API, relay and
    scheduler; the campaign SIGKILLs and restarts each copy of each process mid-run, restarts the broker and
    PostgreSQL, and the term still reconciles with its ground truth: nothing lost, nothing doubled."""
    result = CliRunner().invoke(app, TINY + ["--admitted", "0", "--faults", "--replicas",
                                             "consumer=3,api=2,relay=2,scheduler=2"])
    assert result.exit_code == 0, result.output[-6000:]
    assert "RECONCILED" in result.output
    # 督导考核问责 (issue 13), reconciled as rows of the same table: September's scorecard with one county's report
    # late, the late report and the overdue inspection finding told to the prefecture, the finding escalated
    for row in ("scorecard 2026-09", "report_on_time", "late report told to the prefecture", "escalated to",
                "escalation told to the prefecture", "median_days_to_return", "unowned_cases"):
        assert row in result.output, row
