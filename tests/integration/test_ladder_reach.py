"""The emergency ladder reaches a person: empty rungs hand on, the last rung repeats.

Driven through the API (elders, contacts, devices, cases, ladders) and the timer sweep on a
fake clock, as the centre would see it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from sqlmodel import col, select

from alerts.runtime import AlertsComponent
from care_api.http.app import create_app
from care_api.services import Services, build_services
from care_api.store.tables import Notification
from care_api.usecases.intake.reports import record_device_report
from tests.api.support import ADMIN, ADMIN_TOKEN, TestClient
from tests.conftest import make_settings
from tests.fakes import FakeClock
from tests.helpers import press, seed_elder

SUPERVISOR_PHONE = "+8613700000000"
ELDER = {
    "name": "Zhao Lan",
    "phone": "+8613800000009",
    "address": "7 Willow Street",
    "lat": 29.08,
    "lon": 119.65,
}


@pytest.fixture
def svc(db_url: str, clock: FakeClock) -> Iterator[Services]:
    settings = make_settings(
        db_url, admin_token=SecretStr(ADMIN_TOKEN), supervisor_phone=SUPERVISOR_PHONE
    )
    services = build_services(settings, clock=clock)
    yield services
    services.close()


@pytest.fixture
def api(svc: Services) -> Iterator[TestClient]:
    with TestClient(create_app(svc)) as client:
        yield client


def call(api: TestClient, method: str, path: str, **body: Any) -> Any:
    resp = api.request(method, f"/api/v1{path}", json=body or None, headers=ADMIN)
    assert resp.is_success, resp.text
    return resp.json()


def rows(svc: Services, case_id: str) -> list[Notification]:
    with svc.uow() as uow:
        found = list(
            uow.session.exec(
                select(Notification)
                .where(Notification.case_id == case_id)
                .order_by(col(Notification.id))
            ).all()
        )
        uow.session.expunge_all()
        return found


def paged(svc: Services, case_id: str) -> list[tuple[str, str]]:
    return [(n.channel, n.recipient) for n in rows(svc, case_id) if n.channel != "console"]


def console(svc: Services, case_id: str) -> list[str]:
    return [n.body for n in rows(svc, case_id) if n.channel == "console"]


def history(api: TestClient, case_id: str, action: str) -> list[str]:
    case = call(api, "GET", f"/cases/{case_id}")
    return [e["why"] for e in case["events"] if e["action"] == action]


def open_emergency(svc: Services, clock: FakeClock, device_id: str = "T1001") -> str:
    outcome = record_device_report(svc.uow, press(device_id), now=clock.now(), tz=svc.tz)
    assert outcome.case_id is not None
    return outcome.case_id


def test_elder_with_nobody_to_call_reaches_the_supervisor_at_once_and_is_flagged(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder = call(api, "POST", "/elders", **ELDER)
    assert elder["warnings"] == ["no_contacts"]  # allowed, but said
    # Told of cases afterwards, never paged: still nobody to call.
    info_only = {"name": "Zhao Ming", "phone": "+447911123456", "notify_only": True}
    call(api, "POST", f"/elders/{elder['id']}/contacts", **info_only)
    assert call(api, "GET", f"/elders/{elder['id']}")["warnings"] == ["no_contacts"]
    call(api, "POST", "/devices", device_id="T1001", elder_id=elder["id"])

    case_id = open_emergency(svc, clock)
    alerts.run_pending()  # the press's fast path, no beat and no time passing

    assert paged(svc, case_id) == [("sms", "supervisor"), ("voice", "supervisor")]
    assert history(api, case_id, "unreached") == [
        "step 0 reached nobody by phone: no contacts on record; step 1 now",
        "step 1 reached nobody by phone: no contacts on record, no volunteer within 12 km;"
        " step 2 now",
    ]
    lines = console(svc, case_id)
    assert "nobody to call: no contacts on record, next step now" in lines[0]
    assert "nobody to call: no contacts on record, no volunteer within 12 km" in lines[1]
    assert "CALL 120" in lines[2]
    case = call(api, "GET", f"/cases/{case_id}")
    assert (case["level"], case["warnings"]) == (2, ["no_contacts"])
    listed = call(api, "GET", f"/cases?elder_id={elder['id']}")
    assert [c["warnings"] for c in listed] == [["no_contacts"]]

    call(api, "POST", f"/elders/{elder['id']}/contacts", name="Zhao Jie", phone="+8613900000077")
    assert call(api, "GET", f"/elders/{elder['id']}")["warnings"] == []
    assert call(api, "GET", f"/cases/{case_id}")["warnings"] == []


def test_a_step_that_finds_nobody_hands_on_at_once_not_after_its_wait(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    elder_id, _ = seed_elder(svc, contacts=1, lat=29.08, lon=119.65)
    assert call(api, "GET", f"/elders/{elder_id}")["warnings"] == []
    case_id = open_emergency(svc, clock)
    alerts.run_pending()
    assert paged(svc, case_id) == [("sms", "contact:1"), ("voice", "contact:1")]

    clock.advance(minutes=2)  # step 1: no other contact, no volunteer; not 5 more minutes
    assert alerts.tick() == 2
    alerts.run_pending()

    assert paged(svc, case_id)[2:] == [("sms", "supervisor"), ("voice", "supervisor")]
    assert history(api, case_id, "unreached") == [
        "step 1 reached nobody by phone: no other contacts, no volunteer within 12 km; step 2 now"
    ]
    assert (
        "nobody to call: no other contacts, no volunteer within 12 km" in console(svc, case_id)[1]
    )


def test_the_last_rung_repeats_until_someone_takes_the_case(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    default = call(api, "GET", "/ladders/emergency")
    assert (default["repeat"], default["repeat_every_s"]) == (3, 300)
    ladder = {
        "steps": [
            {"after_s": 0, "notify": [{"audience": "contacts_all", "channels": ["sms"]}]},
            {
                "after_s": 60,
                "notify": [
                    {"audience": "supervisor", "channels": ["sms", "voice"]},
                    {"audience": "operators", "channels": ["console"]},
                ],
                "flag": "call 120",
            },
        ],
        "repeat": 2,
        "repeat_every_s": 120,
    }
    saved = call(api, "PUT", "/ladders/emergency", **ladder)
    assert (saved["repeat"], saved["repeat_every_s"]) == (2, 120)
    assert call(api, "GET", "/ladders/emergency")["repeat_every_s"] == 120
    seed_elder(svc, contacts=1)
    case_id = open_emergency(svc, clock)
    alerts.run_pending()
    clock.advance(seconds=60)
    alerts.tick()  # the last rung, first run

    clock.advance(seconds=119)
    assert alerts.tick() == 0  # not before its time
    clock.advance(seconds=1)
    assert alerts.tick() == 1  # repeat 1
    alerts.run_pending()
    assert paged(svc, case_id)[-2:] == [("sms", "supervisor"), ("voice", "supervisor")]
    assert paged(svc, case_id).count(("voice", "supervisor")) == 2
    assert "step 1 (repeat 1 of 2); CALL 120" in console(svc, case_id)[-1]
    assert history(api, case_id, "transition")[-1] == "no acknowledgement: step 1, repeat 1 of 2"

    call(api, "POST", f"/cases/{case_id}/ack")
    clock.advance(seconds=120)  # repeat 2 would be due: the case is taken, nobody is paged
    alerts.tick()
    alerts.run_pending()
    assert paged(svc, case_id).count(("voice", "supervisor")) == 2


def test_the_last_rung_stops_after_its_repeats(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(svc, contacts=1)
    case_id = open_emergency(svc, clock)
    alerts.run_pending()
    for _ in range(12):  # an hour, nobody answering
        clock.advance(minutes=5)
        alerts.tick()
    alerts.run_pending()

    assert paged(svc, case_id).count(("voice", "supervisor")) == 4  # once, then 3 repeats
    assert history(api, case_id, "transition")[-3:] == [
        f"no acknowledgement: step 2, repeat {n} of 3" for n in (1, 2, 3)
    ]
    assert history(api, case_id, "flag") == ["call 120"] * 4
    assert call(api, "GET", f"/cases/{case_id}")["level"] == 2
