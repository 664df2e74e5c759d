"""The fleet over a real Mosquitto and the gateway, with firmware_sim terminals."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from alerts.runtime import AlertsComponent
from care_api.domain.model import CaseState
from care_api.services import Services
from care_api.settings import Settings
from device_gateway.runtime import GatewayComponent
from firmware_sim.terminal import Terminal
from tests.api.support import ADMIN, TestClient
from tests.fleet.support import device_cases, device_row, history, wait_until
from tests.helpers import seed_elder
from tests.mosquitto import MosquittoServer, run_mosquitto

API = "/api/v1/devices"
WAIT_S = 10.0


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoServer]:
    with run_mosquitto(tmp_path) as server:
        yield server


@pytest.fixture
def gateway(services: Services, broker: MosquittoServer) -> Iterator[GatewayComponent]:
    settings = Settings(
        database_url=services.settings.database_url,
        mqtt_url=broker.url,
        mqtt_client_id=f"gw-{uuid.uuid4().hex[:8]}",
        _env_file=None,  # type: ignore[call-arg]
    )
    component = GatewayComponent(settings, services)
    component.start()
    yield component
    component.stop()


@pytest.fixture
def terminal(
    services: Services, broker: MosquittoServer, gateway: GatewayComponent
) -> Iterator[Callable[[], Terminal]]:
    made: list[Terminal] = []

    def make() -> Terminal:
        _, secret = seed_elder(services)
        term = Terminal("T1001", secret, broker.url, heartbeat_s=3600, ack_timeout_s=1.0)
        made.append(term)
        term.start()
        assert term.wait_ready(WAIT_S), term.last_error
        return term

    yield make
    for term in made:
        term.stop()


def command(api: TestClient, command_id: int) -> dict[str, Any]:
    body: dict[str, Any] = api.get(f"{API}/T1001/commands/{command_id}", headers=ADMIN).json()
    return body


def test_command_ring_round_trip_through_a_simulated_terminal(
    api: TestClient, terminal: Callable[[], Terminal]
) -> None:
    term = terminal()
    resp = api.post(f"{API}/T1001/commands", json={"cmd": "ring"}, headers=ADMIN)
    assert resp.status_code == 201, resp.text
    command_id = resp.json()["id"]
    assert wait_until(lambda: command(api, command_id)["status"] == "ok")
    assert term.commands() == [{"cmd": "ring", "id": str(command_id)}]
    result = command(api, command_id)
    assert result["detail"] == "ringing"
    assert result["sent_at"] is not None and result["answered_at"] is not None
    assert result["round_trip_ms"] >= 0  # the moved clock stands still: 0 here
    listed = api.get(f"{API}/T1001/commands", headers=ADMIN).json()
    assert [c["id"] for c in listed] == [command_id]


def test_fleet_last_will_over_the_broker_opens_a_case_and_reconnecting_closes_it(
    services: Services, alerts: AlertsComponent, terminal: Callable[[], Terminal]
) -> None:
    term = terminal()
    assert wait_until(lambda: device_row(services).online is True)
    term.crash()  # no DISCONNECT: the broker publishes the last will, `offline`
    assert wait_until(lambda: device_row(services).online is False)
    assert alerts.fleet.watch().opened == 1
    [case] = device_cases(services)
    assert "connection to the centre dropped" in history(services, case.id)[0][1]

    term.start()  # back: `online` on the status topic ends the outage
    assert wait_until(lambda: device_cases(services)[0].state == CaseState.RESOLVED)
    assert "terminal back (connected)" in history(services, case.id)[-1][1]


def test_fleet_retired_terminal_is_rejected_over_mqtt(
    api: TestClient, terminal: Callable[[], Terminal]
) -> None:
    term = terminal()
    assert api.post(f"{API}/T1001/retire", headers=ADMIN).status_code == 200
    ack = term.press("long").wait(WAIT_S)
    assert ack is not None
    assert (ack["status"], ack["reason"]) == ("rejected", "device retired")
