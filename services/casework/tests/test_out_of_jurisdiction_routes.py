"""Every route that names a case, tried by every role of another county: nothing is shown and nothing changes."""

import pytest

from services.casework.tests.builders import opened_case
from services.casework.tests.stories import unique_county
from services.runtime.auth import ROLES
from services.runtime.testing import auth

pytestmark = pytest.mark.integration


def case_routes(app) -> list[tuple[str, str]]:
    """Every operation of the OpenAPI document whose path names a case."""
    return sorted((method.upper(), path) for path, operations in app.openapi()["paths"].items()
                  if "{case_id}" in path for method in operations)


def test_no_role_of_another_county_reads_or_changes_a_case_through_any_route(api):
    client, app = api
    county, elsewhere = unique_county(), unique_county()
    case = opened_case(app, township_code=f"{county}001")
    before = app.queries.case(case.id).version
    routes = case_routes(client.app)
    assert len(routes) >= 20
    for role in (r for r in ROLES if r != "admin"):
        headers = auth(role, elsewhere, user_id=f"{role}-x")
        for method, path in routes:
            url = path.replace("{case_id}", str(case.id)).replace("{slot}", "head_teacher").replace("{sha256}", "0" * 64)
            answer = client.request(method, url, headers={**headers, "Idempotency-Key": "k"}, params={"version": 1},
                                    json={})
            assert answer.status_code in ((403, 404) if method == "GET" else (403, 404, 422)), (role, method, path)
    assert app.queries.case(case.id).version == before
