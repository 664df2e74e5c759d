"""Guessing bearer tokens from one address earns it a growing wait, counted in /metrics."""

from __future__ import annotations

from care_api.services import Services
from care_api.throttle import FREE_FAILURES
from tests.api.support import ADMIN, TestClient, bearer
from tests.fakes import FakeClock

GUESS = bearer("guessed-token-0000")


def _metric(api: TestClient, name: str, gate: str) -> float:
    prefix = f'{name}{{gate="{gate}"}} '
    [line] = [x for x in api.get("/metrics").text.splitlines() if x.startswith(prefix)]
    return float(line.removeprefix(prefix))


def test_bad_bearer_tokens_from_one_address_back_off(
    api: TestClient, services: Services, clock: FakeClock
) -> None:
    for _ in range(FREE_FAILURES):
        assert api.get("/api/v1/cases", headers=GUESS).status_code == 401
    # One more failure shuts the address out for 1 s; inside it nothing is checked, not
    # even a good token (a guesser's right guess would look the same).
    assert api.get("/api/v1/cases", headers=GUESS).status_code == 401
    shut = api.get("/api/v1/cases", headers=ADMIN)
    assert shut.status_code == 429
    assert shut.headers["Retry-After"] == "1"
    # The wait doubles with each further failure.
    waits = []
    for _ in range(4):
        clock.advance(seconds=300)
        assert api.get("/api/v1/cases", headers=GUESS).status_code == 401
        waits.append(int(api.get("/api/v1/cases", headers=GUESS).headers["Retry-After"]))
    assert waits == [2, 4, 8, 16]
    clock.advance(seconds=16)
    assert api.get("/api/v1/cases", headers=ADMIN).status_code == 200
    # No token at all is not a guess: anonymous calls stay plain 401s.
    for _ in range(FREE_FAILURES * 2):
        assert api.get("/api/v1/cases").status_code == 401
    assert _metric(api, "vnh_auth_failures_total", "bearer_token") == FREE_FAILURES + 1 + 4
    assert _metric(api, "vnh_auth_throttled_total", "bearer_token") == 1 + 4
    assert _metric(api, "vnh_auth_blocked_sources", "bearer_token") == 0
    assert _metric(api, "vnh_auth_failures_total", "mqtt_login") == 0


def test_another_address_is_not_held_up_by_a_guesser(api: TestClient, services: Services) -> None:
    for _ in range(FREE_FAILURES + 1):
        api.get("/api/v1/cases", headers=GUESS)
    assert api.get("/api/v1/cases", headers=ADMIN).status_code == 429
    with TestClient(api.app, client=("10.0.0.7", 50000)) as elsewhere:
        assert elsewhere.get("/api/v1/cases", headers=ADMIN).status_code == 200
    assert _metric(api, "vnh_auth_blocked_sources", "bearer_token") == 1
