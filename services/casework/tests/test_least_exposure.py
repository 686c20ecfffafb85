"""A case opened from the census keeps ids and codes only: its chained events hold no masked name or number, so a
child's erasure (StudentErased.v1) leaves nothing to remove and every chain still verifies."""

from services.casework.application import CaseworkApp
from services.casework.tests.builders import deliver
from services.casework.tests.test_registry_triggers import census
from services.runtime.testing import in_memory


def test_a_census_case_stores_no_masked_name_or_id_number():
    app = in_memory(CaseworkApp)
    found = census("child-never-enrolled")
    assert deliver(app, found) is True
    stored = str([vars(app.mapper.to_domain_event(n)) for n in app.recorder.select_notifications(start=1, limit=100)])
    assert found.finding_id in stored and "left_behind" in stored
    assert found.name_masked not in stored and found.id_number_masked not in stored
