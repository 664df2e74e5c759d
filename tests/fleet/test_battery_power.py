"""Low battery and mains power: one device case per crossing, updated, never a storm."""

from __future__ import annotations

from alerts.runtime import AlertsComponent
from care_api.domain.model import CaseState, IntakeStatus, ReportType
from care_api.services import Services
from tests.fakes import FakeClock
from tests.fleet.support import (
    Reporter,
    device_cases,
    device_row,
    history,
    notifications,
    past_the_settle,
)
from tests.helpers import seed_elder


def states(services: Services) -> list[str]:
    return [c.state for c in device_cases(services)]


def test_battery_crossings_open_one_case_each_and_none_while_low(
    services: Services, clock: FakeClock
) -> None:
    seed_elder(services)
    term = Reporter(services)
    term.beat(battery=25)
    term.beat(battery=19)  # crossed: a case, from a heartbeat's value
    assert states(services) == [CaseState.OPEN]
    for level in (18, 15, 20, 12):  # staying low (20 is not above 20): nothing new
        clock.advance(minutes=5)
        term.beat(battery=level)
    term.send(ReportType.BATTERY, level=11)  # the terminal's own battery event, still low
    assert states(services) == [CaseState.OPEN]
    [case] = device_cases(services)
    assert [a for a, _ in history(services, case.id)] == ["opened"]

    clock.advance(hours=2)
    term.beat(battery=60)  # charged: the flag resets and the case resolves by itself
    assert states(services) == [CaseState.RESOLVED]
    assert "battery back to 60 %" in history(services, case.id)[-1][1]
    assert device_row(services).battery_low is False

    clock.advance(days=10)
    out = term.send(ReportType.BATTERY, level=17)  # a second crossing: a second case
    assert states(services) == [CaseState.RESOLVED, CaseState.OPEN]
    assert out.case_id == device_cases(services)[1].id


def test_battery_crossing_from_heartbeats_is_written_at_once_not_batched(
    services: Services,
) -> None:
    seed_elder(services)
    term = Reporter(services)
    term.beat(battery=50)
    out = term.beat(battery=10)
    assert (out.status, out.case_id) == (IntakeStatus.ACCEPTED, None)  # heartbeats name no case
    row = device_row(services)
    assert (row.battery, row.battery_low) == (10, True)


def test_power_lost_and_restored_open_and_resolve_the_device_case(
    services: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(services)
    term = Reporter(services)
    term.beat(battery=90)
    term.send(ReportType.POWER, state="lost")
    assert states(services) == []  # it may be a blackout's first terminal: it waits the settle
    past_the_settle(services, alerts, clock)
    [case] = device_cases(services)
    again = term.send(ReportType.POWER, state="lost")  # a flapping socket: same case, a note
    assert again.case_id == case.id
    assert states(services) == [CaseState.OPEN]
    alerts.run_pending()
    told = [(n.channel, n.recipient.split(":")[0]) for n in notifications(services, case.id)]
    assert told == [("sms", "contact"), ("console", "technician")]  # told once, not twice

    clock.advance(minutes=40)
    restored = term.send(ReportType.POWER, state="restored")
    assert restored.case_id == case.id
    assert states(services) == [CaseState.RESOLVED]
    actions = [a for a, _ in history(services, case.id)]
    assert actions.count("opened") == 1 and actions[-1] == "transition"
    assert term.send(ReportType.POWER, state="restored").case_id is None  # nothing to settle


def test_power_and_battery_share_one_case_that_resolves_when_both_are_fine(
    services: Services, clock: FakeClock
) -> None:
    seed_elder(services)
    term = Reporter(services)
    term.beat(battery=90)
    term.send(ReportType.POWER, state="lost")
    clock.advance(hours=6)
    term.beat(battery=15)  # running on battery, now low too
    assert states(services) == [CaseState.OPEN]
    [case] = device_cases(services)

    term.send(ReportType.POWER, state="restored")
    assert states(services) == [CaseState.OPEN]  # the battery is still low
    assert "mains power restored; still battery low" in history(services, case.id)[-1][1]
    clock.advance(hours=1)
    term.beat(battery=35)
    assert states(services) == [CaseState.RESOLVED]
