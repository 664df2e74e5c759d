"""The closed loop of an accepted emergency (issue 9): "on site" in time, then resolution."""

from __future__ import annotations

from alerts.runtime import AlertsComponent
from care_api.domain.model import DeviceReport, EventKey, ReportType
from care_api.services import Services
from care_api.usecases.intake.reports import record_device_report
from care_api.usecases.people.registry import provision_device
from tests.api.support import TestClient
from tests.dispatch.support import (
    ADMIN,
    add_elder,
    case_row,
    console_lines,
    history,
    messages,
    ok,
    settle,
    sms,
    sms_to,
)
from tests.fakes import FakeClock

DAUGHTER, SON = "+8613900000001", "+8613900000002"


def emergency_taken_by_daughter(
    api: TestClient, svc: Services, alerts: AlertsComponent
) -> tuple[int, str]:
    elder = add_elder(api)
    for name, phone, priority in (("Li Na", DAUGHTER, 1), ("Li Wei", SON, 2)):
        body = {"name": name, "phone": phone, "relation": "child", "priority": priority}
        ok(api.post(f"/api/v1/elders/{elder}/contacts", json=body, headers=ADMIN), 201)
    with svc.uow() as uow:
        provision_device(uow.session, "T1001", elder, svc.clock.now())
        uow.commit()
    report = DeviceReport(EventKey("T1001", 1, 1), ReportType.PRESS, {"pattern": "long"})
    case_id = record_device_report(svc.uow, report, now=svc.clock.now(), tz=svc.tz).case_id
    assert case_id is not None
    settle(alerts)
    assert sms(api, DAUGHTER, "1").startswith(f"You have case {case_id}")
    settle(alerts)
    return elder, case_id


def test_no_on_site_within_30_minutes_tells_the_owner_and_alerts_the_next_step(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    _, case_id = emergency_taken_by_daughter(api, svc, alerts)
    assert SON not in sms_to(svc, case_id)  # step 1 never ran: the daughter took it at once

    clock.advance(minutes=29)
    settle(alerts)
    assert not any("on site" in b for b in sms_to(svc, case_id)[DAUGHTER])

    clock.advance(minutes=1)
    settle(alerts)
    told = sms_to(svc, case_id)
    assert "have not confirmed you are with the elder" in told[DAUGHTER][-1]
    assert "Li Na (child) took it 30 min ago but is not on site yet" in told[SON][-1]
    # The owner is called too ("press 3" on the keypad once there); the son's alerts go
    # out although the case is taken: they are about that.
    [call] = [n for n in messages(svc, case_id) if n.to == DAUGHTER and "30 minutes ago" in n.body]
    assert call.channel == "voice" and call.say is not None and "reply 3" in call.say
    assert {(n.channel, n.status) for n in messages(svc, case_id) if n.to == SON} == {
        ("sms", "queued"),
        ("voice", "queued"),
    }
    assert any("not on site after 30 min" in line for line in console_lines(svc, case_id))
    assert case_row(svc, case_id).level == 1
    assert any(a == "on_site_overdue" for a, _ in history(svc, case_id))

    # Confirmed on site: no more re-alerts, however long it takes.
    who = ok(api.post("/api/v1/cases/" + case_id + "/on-site", headers=ADMIN))
    assert who["state"] == "on_site"
    before = len(sms_to(svc, case_id)[SON])
    clock.advance(minutes=45)
    settle(alerts)
    assert len(sms_to(svc, case_id)[SON]) == before


def test_on_site_in_time_alerts_nobody_more(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    _, case_id = emergency_taken_by_daughter(api, svc, alerts)
    clock.advance(minutes=10)
    ok(api.post(f"/api/v1/cases/{case_id}/on-site", headers=ADMIN))
    clock.advance(minutes=50)
    settle(alerts)
    assert SON not in sms_to(svc, case_id)
    assert "on_site_overdue" not in [a for a, _ in history(svc, case_id)]


def test_accepted_case_not_resolved_in_two_hours_is_chased_until_resolved(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    _, case_id = emergency_taken_by_daughter(api, svc, alerts)
    clock.advance(minutes=5)
    ok(api.post(f"/api/v1/cases/{case_id}/on-site", headers=ADMIN))
    clock.advance(minutes=114)
    settle(alerts)
    assert not any("still not resolved" in b for b in sms_to(svc, case_id)[DAUGHTER])

    clock.advance(minutes=1)
    settle(alerts)
    chase = f"Case {case_id} is still not resolved 120 min after it was accepted."
    assert sms_to(svc, case_id)[DAUGHTER][-1].startswith(chase)
    assert any(
        line.startswith(f"Case {case_id} (taken by Li Na (child)) is still not resolved")
        for line in console_lines(svc, case_id)
    )

    clock.advance(hours=2)
    settle(alerts)
    chases = [b for b in sms_to(svc, case_id)[DAUGHTER] if "still not resolved" in b]
    assert len(chases) == 2

    ok(api.post(f"/api/v1/cases/{case_id}/resolve", json={"note": "fine"}, headers=ADMIN))
    clock.advance(hours=6)
    settle(alerts)
    chases = [b for b in sms_to(svc, case_id)[DAUGHTER] if "still not resolved" in b]
    assert len(chases) == 2


def test_the_times_are_settings(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    svc.settings.on_site_within_s = 600
    _, case_id = emergency_taken_by_daughter(api, svc, alerts)
    clock.advance(minutes=10)
    settle(alerts)
    assert "10 min ago" in sms_to(svc, case_id)[SON][-1]


def test_the_owner_confirms_on_site_by_replying_3(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    _, case_id = emergency_taken_by_daughter(api, svc, alerts)
    assert sms(api, SON, "3") == "You have no open case to answer. Thank you."
    assert sms(api, DAUGHTER, "到了") == (
        f"Thank you: you are with the elder for case {case_id}. Resolve it when done."
    )
    assert case_row(svc, case_id).state == "on_site"
    clock.advance(minutes=40)
    settle(alerts)
    assert SON not in sms_to(svc, case_id)


def press_on(svc: Services, device_id: str, elder: int, seq: int = 1) -> str:
    with svc.uow() as uow:
        provision_device(uow.session, device_id, elder, svc.clock.now())
        uow.commit()
    report = DeviceReport(EventKey(device_id, 1, seq), ReportType.PRESS, {"pattern": "long"})
    case_id = record_device_report(svc.uow, report, now=svc.clock.now(), tz=svc.tz).case_id
    assert case_id is not None
    return case_id


def test_kpi_reports_answer_times_per_district_and_shift(
    api: TestClient, svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    # 08:00 UTC is 16:00 in Shanghai: the day shift.
    east = add_elder(api, district="east")
    west = add_elder(api, name="Zhao Lei", district="west")
    assert ok(api.get(f"/api/v1/elders/{east}", headers=ADMIN))["district"] == "east"
    fast = press_on(svc, "T1", east)
    slow = press_on(svc, "T2", west)
    settle(alerts)
    clock.advance(seconds=45)
    ok(api.post(f"/api/v1/cases/{fast}/ack", headers=ADMIN))
    clock.advance(seconds=75)  # 120 s after the presses
    ok(api.post(f"/api/v1/cases/{slow}/ack", headers=ADMIN))
    clock.advance(minutes=10)
    ok(api.post(f"/api/v1/cases/{fast}/on-site", headers=ADMIN))

    figures = ok(api.get("/api/v1/reports/kpi?days=1", headers=ADMIN))["answer_times"]
    assert (figures["emergencies"], figures["answered"]) == (2, 2)
    assert (figures["within_60s"], figures["within_180s"]) == (0.5, 1.0)
    assert (figures["target_60s"], figures["target_180s"]) == (0.975, 0.99)
    assert (figures["on_site"], figures["on_site_p50_s"]) == (1, 720.0)
    assert figures["by_district"]["east"]["within_60s"] == 1.0
    assert figures["by_district"]["west"]["within_60s"] == 0.0
    assert figures["by_shift"]["day"]["emergencies"] == 2
    assert figures["by_shift"]["night"]["emergencies"] == 0
    assert figures["shifts"] == {"day": 8, "night": 20}
