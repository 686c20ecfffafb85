"""Bad-input campaign: schemathesis sends schema-valid and schema-violating requests to every operation of every
service's OpenAPI document; no request may end in a server error (5xx).

Default tier: a few examples per operation, derandomized (the same cases on every run). `make fuzz` sets
BAOXUE_FUZZ_EXAMPLES higher and draws fresh cases (BAOXUE_FUZZ_RANDOM=1).

The schema is loaded from the app built by a fixture (the app needs PostgreSQL), and each operation runs as one
Hypothesis test inside the service's test: schemathesis' lazy ``from_fixture`` loader does not run on pytest 9.
"""

from __future__ import annotations

import os
import traceback

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings, strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from services.runtime.testing import auth
from tests.fuzz.conftest import SERVICES, TALLY

pytestmark = [pytest.mark.fuzz, pytest.mark.integration]

EXAMPLES = int(os.environ.get("BAOXUE_FUZZ_EXAMPLES", "8"))
RANDOM = os.environ.get("BAOXUE_FUZZ_RANDOM", "") not in ("", "0")
STRICT = os.environ.get("BAOXUE_FUZZ_STRICT", "") not in ("", "0")
# The province administrator passes every role check, so the input reaches the use cases behind the routes.
HEADERS = auth("admin", "52", user_id="fuzz-admin")

# 5xx found by this campaign and reported to the service's owner, not fixed yet. In the default tier they are an
# expected failure (xfail, listed in the output); any other 5xx fails. `make fuzz` (BAOXUE_FUZZ_STRICT=1) allows none.
# Delete an entry when its fix lands.
KNOWN_5XX: dict[str, dict[str, str]] = {}  # operation -> reason, while a 5xx is reported but not yet fixed


def _run_operation(service: str, operation) -> None:
    """Up to EXAMPLES requests, valid and invalid against the schema; raises on the first (shrunk) 5xx."""
    key = (service, f"{operation.method.upper()} {operation.path}")
    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, derandomize=not RANDOM, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case) -> None:
        TALLY[key] += 1
        case.call_and_validate(headers=HEADERS, checks=[not_a_server_error])

    run()


def _where(exc: BaseException) -> str:
    """Where in the project's code an unhandled exception was raised (the ASGI client re-raises it)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/services/" in f.filename or "/contracts/" in f.filename]
    return f"{frames[-1].filename.split('/work/main/')[-1]}:{frames[-1].lineno} ({frames[-1].name}): " if frames else ""


@pytest.mark.parametrize("service", SERVICES)
def test_no_input_makes_a_server_error(service, service_apps):
    schema = schemathesis.openapi.from_asgi("/openapi.json", service_apps[service])
    known = {} if STRICT else KNOWN_5XX.get(service, {})
    failures, expected = [], []
    for result in schema.get_all_operations():
        operation = result.ok()
        name = f"{operation.method.upper()} {operation.path}"
        try:
            _run_operation(service, operation)
        except Exception as exc:  # noqa: BLE001 - every operation is tried; all failures are reported together
            (expected if name in known else failures).append(f"{name}: {_where(exc)}{type(exc).__name__}: {exc}")
    assert not failures, f"{len(failures)} operation(s) of {service} answered 5xx:\n\n" + "\n\n".join(failures)
    if expected:
        pytest.xfail(f"known 5xx reported to the {service} owner: " + " | ".join(expected))
