"""Every view of a case (its body, its timeline, as of a past version) is recorded; auditors of its county see them."""

import pytest

from services.casework.tests.builders import opened_case
from services.casework.tests.stories import unique_county
from services.runtime.testing import auth

pytestmark = pytest.mark.integration


def test_views_of_a_case_are_recorded_with_purpose_and_queryable_by_the_countys_auditor(api):
    client, app = api
    county = unique_county()
    case = opened_case(app, township_code=f"{county}001")
    teacher = auth("head_teacher", county, user_id="ht-7")
    assert client.get(f"/v1/cases/{case.id}", headers=teacher).status_code == 200
    assert client.get(f"/v1/cases/{case.id}/history", headers={**teacher, "X-Access-Purpose": "legal"}
                      ).status_code == 200
    assert client.get(f"/v1/cases/{case.id}/as-of", params={"version": 1}, headers=auth("auditor", county)
                      ).status_code == 200
    refused = client.get(f"/v1/cases/{case.id}", headers=auth("head_teacher", unique_county()))
    assert refused.status_code == 403

    rows = client.get("/v1/audit/reads", params={"case_id": str(case.id)}, headers=auth("auditor", county)).json()
    assert [(r["view"], r["purpose"], r["actor_role"]) for r in rows] == [
        ("case_as_of", "audit", "auditor"), ("case_timeline", "legal", "head_teacher"),
        ("case", "casework", "head_teacher")]
    assert {r["student_id"] for r in rows} == {case.student_id}
    assert all(r["subject_jurisdiction"] == f"{county}001" for r in rows)
    by_child = client.get("/v1/audit/reads", params={"student_id": case.student_id}, headers=auth("auditor", county))
    assert len(by_child.json()) == 3
    elsewhere = client.get("/v1/audit/reads", params={"case_id": str(case.id)}, headers=auth("auditor", unique_county()))
    assert elsewhere.json() == []
    assert client.get("/v1/audit/reads", headers=auth("county_officer", county)).status_code == 403
