"""Downlink commands: a ring round trip through a simulated terminal, timeouts, serial lines."""

from __future__ import annotations

from typing import Any

from alerts.runtime import AlertsComponent
from care_api.domain.model import ReportType
from care_api.services import Services
from device_gateway.commands import CANNOT_CARRY, CommandSender
from device_gateway.downlink import DownlinkRouter
from device_gateway.protocol.model import Ack, CaseNews, Command, CommandName
from device_gateway.transports.serial import SerialTransport
from tests.api.support import ADMIN, TestClient, mint
from tests.fakes import FakeClock
from tests.fleet.support import Reporter, device_row
from tests.helpers import seed_elder

API = "/api/v1/devices"
WAIT_S = 10.0


class RecordingDownlink:
    """A downlink that keeps what it was asked to send."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, Command]] = []

    def send_ack(self, device_id: str, ack: Ack, *, urgent: bool = False) -> None:
        pass

    def send_news(self, device_id: str, news: CaseNews) -> None:
        pass

    def send_command(self, device_id: str, command: Command) -> None:
        self.commands.append((device_id, command))


def post_command(api: TestClient, cmd: str, device_id: str = "T1001", **params: Any) -> int:
    resp = api.post(
        f"{API}/{device_id}/commands", json={"cmd": cmd, "params": params}, headers=ADMIN
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["status"] == "pending"
    command_id: int = resp.json()["id"]
    return command_id


def command(api: TestClient, command_id: int, device_id: str = "T1001") -> dict[str, Any]:
    resp = api.get(f"{API}/{device_id}/commands/{command_id}", headers=ADMIN)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_command_config_accepted_moves_the_expected_interval(
    services: Services, api: TestClient
) -> None:
    seed_elder(services)
    command_id = post_command(api, "config", heartbeat_s=600)
    term = Reporter(services)
    term.send(ReportType.CMD_RESULT, ref=str(command_id), ok=True, detail="heartbeat_s=600")
    assert command(api, command_id)["status"] == "ok"
    assert device_row(services).heartbeat_s == 600

    refused = post_command(api, "config", heartbeat_s=30)
    term.send(ReportType.CMD_RESULT, ref=str(refused), ok=False, detail="not allowed")
    assert command(api, refused)["status"] == "failed"
    assert device_row(services).heartbeat_s == 600


def test_command_unanswered_times_out_and_a_late_answer_is_kept(
    services: Services, api: TestClient, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(services)
    command_id = post_command(api, "ping")
    clock.advance(seconds=59)
    alerts.tick()
    assert command(api, command_id)["status"] == "pending"
    clock.advance(seconds=1)
    alerts.tick()
    timed_out = command(api, command_id)
    assert (timed_out["status"], timed_out["detail"]) == ("timeout", "no answer within 60 s")

    clock.advance(seconds=30)
    Reporter(services).send(ReportType.CMD_RESULT, ref=str(command_id), ok=True, detail="pong")
    late = command(api, command_id)
    assert (late["status"], late["detail"], late["round_trip_ms"]) == ("ok", "pong (late)", 90_000)


def test_command_to_a_terminal_behind_a_serial_hub_fails_at_once(
    services: Services, api: TestClient
) -> None:
    seed_elder(services)
    router = DownlinkRouter(default=RecordingDownlink())
    router.note("T1001", SerialTransport("loop://"))  # the terminal last spoke through a hub
    sender = CommandSender(services, router)
    command_id = post_command(api, "ring")
    assert sender.send(command_id) is False
    failed = command(api, command_id)
    assert (failed["status"], failed["detail"]) == ("failed", CANNOT_CARRY)


def test_command_is_sent_once_with_its_params(services: Services, api: TestClient) -> None:
    seed_elder(services)
    mqtt = RecordingDownlink()
    sender = CommandSender(services, DownlinkRouter(default=mqtt))
    command_id = post_command(api, "config", heartbeat_s=120)
    assert sender.send(command_id) is True
    assert sender.send(command_id) is False  # claimed already: never twice
    assert mqtt.commands == [
        ("T1001", Command(cmd=CommandName.CONFIG, id=str(command_id), params={"heartbeat_s": 120}))
    ]
    assert command(api, command_id)["status"] == "sent"


def test_command_requests_are_checked(services: Services, api: TestClient) -> None:
    elder, _ = seed_elder(services)
    url = f"{API}/T1001/commands"
    for body in (
        {"cmd": "reboot"},
        {"cmd": "config", "params": {"volume": 3}},
        {"cmd": "config", "params": {}},
        {"cmd": "config", "params": {"heartbeat_s": -5}},
        {"cmd": "ring", "params": {"id": "mine"}},
    ):
        assert api.post(url, json=body, headers=ADMIN).status_code == 422, body
    caregiver = mint(api, "caregiver", elder_ids=[elder])
    assert api.post(url, json={"cmd": "ring"}, headers=caregiver).status_code == 403
    assert api.get(url, headers=caregiver).status_code == 403
    assert api.post(f"{API}/NOPE/commands", json={"cmd": "ring"}, headers=ADMIN).status_code == 404
    assert api.get(f"{API}/T1001/commands/999", headers=ADMIN).status_code == 404
    api.post(f"{API}/T1001/retire", headers=ADMIN)
    assert api.post(url, json={"cmd": "ring"}, headers=ADMIN).status_code == 409
