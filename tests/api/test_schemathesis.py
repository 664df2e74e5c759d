"""Generated requests for every operation of /openapi.json, as the admin: never a 500."""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import Case
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation

from tests.api.role_world import open_world
from tests.api.support import ADMIN
from tests.fakes import FakeClock

# Bounded so the suite stays fast (about 20 s for some 60 operations); raise it for a deeper
# run: VNH_TEST_FUZZ_EXAMPLES=200 pytest tests/api/test_schemathesis.py
MAX_EXAMPLES = int(os.environ.get("VNH_TEST_FUZZ_EXAMPLES", "12"))
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    # A loaded CI machine trips the speed checks; shrinking a failure is not worth the time.
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
    database=None,
)


def _fuzz(operation: APIOperation[Any, Any, Any, Any]) -> None:
    @FUZZ_SETTINGS
    @given(case=operation.as_strategy())
    def generated(case: Case[Any]) -> None:
        response = case.call(headers=ADMIN)
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} {case.query} {case.body!r}: "
            f"{response.status_code} {response.text[:300]}"
        )

    generated()


@pytest.mark.slow
def test_schemathesis_no_generated_request_is_a_server_error(
    sqlite_url: str, clock: FakeClock
) -> None:
    # A populated world, so that generated ids sometimes hit real elders, cases and tasks.
    with open_world(sqlite_url, clock) as world:
        loaded = schemathesis.openapi.from_asgi("/openapi.json", world.api.app)
        # The case stream never ends for a staff token; tests/api/test_console_api.py covers it.
        schema = loaded.exclude(path="/api/v1/stream")
        failures: list[str] = []
        operations = 0
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), f"the schema itself is broken: {result.err()}"
            operation = result.ok()
            operations += 1
            try:
                _fuzz(operation)
            except Exception as exc:
                failures.append(f"{operation.label}: {exc}")
        assert operations > 40, "the schema lost its operations"
        assert not failures, "\n".join(failures)
