"""People's tokens end to end: `vnh token create`, expiry and revocation on every way in."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from care_api.services import Services
from care_api.store.tables import ApiToken
from care_api.usecases.people.credentials import hash_secret
from tests.api.role_world import open_world
from tests.api.support import ADMIN, TestClient, bearer
from tests.fakes import FakeClock
from tests.helpers import seed_elder
from vnh.cli import app as vnh


def test_token_create_command_mints_a_working_caregiver_token_kept_as_a_hash(
    api: TestClient, services: Services, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    elder_id, _ = seed_elder(services)
    monkeypatch.setenv("VNH_DATABASE_URL", services.settings.database_url)
    # The command stamps real time; the API's clock is set to match it.
    clock.advance(seconds=(datetime.now(UTC) - clock.now()).total_seconds())
    argv = ["token", "create", "--role", "caregiver", "--name", "Wang", "--days", "1", "--elder"]
    result = CliRunner().invoke(vnh, [*argv, str(elder_id)])
    assert result.exit_code == 0, result.output
    match = re.search(r"\(caregiver\): (\S+)", result.output)
    assert match is not None, result.output
    token = match.group(1)
    with services.uow() as uow:
        [row] = uow.session.exec(select(ApiToken)).all()
        assert row.token_hash == hash_secret(token)
    assert api.get(f"/api/v1/elders/{elder_id}", headers=bearer(token)).status_code == 200
    clock.advance(days=1, minutes=1)
    assert api.get(f"/api/v1/elders/{elder_id}", headers=bearer(token)).status_code == 401
    assert row.expires_at is not None and row.expires_at - row.created_at == timedelta(days=1)


def test_token_revoked_or_expired_token_cannot_open_the_console_stream(
    db_url: str, clock: FakeClock
) -> None:
    with open_world(db_url, clock) as world:
        _check_stream_refuses_dead_tokens(world.api, clock)


def _check_stream_refuses_dead_tokens(api: TestClient, clock: FakeClock) -> None:
    minted = api.post(
        "/api/v1/tokens",
        json={"role": "operator", "name": "Zhao", "expires_in_days": 1},
        headers=ADMIN,
    ).json()
    revoked = api.post("/api/v1/tokens", json={"role": "operator", "name": "Qian"}, headers=ADMIN)
    revoked_id, revoked_token = revoked.json()["id"], revoked.json()["token"]
    assert api.delete(f"/api/v1/tokens/{revoked_id}", headers=ADMIN).status_code == 204
    clock.advance(days=1)
    for token in (minted["token"], revoked_token):
        # Only the stream takes its token in the query (EventSource cannot send headers).
        assert api.get("/api/v1/stream", params={"token": token}).status_code == 401
        assert api.get("/api/v1/cases", headers=bearer(token)).status_code == 401
