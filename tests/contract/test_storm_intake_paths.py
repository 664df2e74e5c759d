"""One storm, two paths: a batch of `power lost` joins the incident as one report at a time does.

And a batch of `power restored` counts its terminals back, and closes the incident, as one
report at a time does.

Two databases seeded alike hold a district whose blackout already opened an area incident.
The same reports then go through the gateway's storm batch (`record_held_reports`, the
reports it leaves recorded one by one after it, as the pipeline does) and through
`record_device_report` alone; the answers and every column of every row written (events,
terminals, cases, the incident, its terminals, their history) must match.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import SQLModel, select

from care_api.domain.model import DeviceReport, EventKey, IntakeOutcome, ReportType
from care_api.services import Services
from care_api.store.incident_tables import Incident, IncidentTerminal, TechSignal
from care_api.store.tables import DeviceHistory
from care_api.usecases.intake.reports import record_device_report
from care_api.usecases.intake.technical import record_held_reports
from tests.contract.test_intake_paths import everything, twins  # noqa: F401 (a fixture)
from tests.fakes import FakeClock
from tests.helpers import seed_elder

HUB = "/dev/ttyUSB0"
DARK = [f"D{i:03d}" for i in range(40)]  # Huangpu: its blackout
ELSEWHERE = "E001"  # another district, no incident there


def power(device_id: str, seq: int, state: str = "lost", source: str = "mqtt") -> DeviceReport:
    return DeviceReport(EventKey(device_id, 1, seq), ReportType.POWER, {"state": state}, source)


def seed(services: Services, clock: FakeClock) -> None:
    """40 terminals of Huangpu (the last 5 behind a hub), 25 of them already dark."""
    for n, device_id in enumerate(DARK):
        seed_elder(
            services, device_id, contacts=1, district="Huangpu", hub_port=HUB if n >= 35 else None
        )
    seed_elder(services, ELSEWHERE, contacts=1, district="Xuhui")
    now = clock.now()
    for device_id in DARK[:25]:
        record_device_report(services.uow, power(device_id, 1), now=now, tz=services.tz)
    # D001 came back; it goes dark again in the batch below (no longer counted back).
    record_device_report(services.uow, power("D001", 2, "restored"), now=now, tz=services.tz)


def batch_then_alone(
    services: Services, reports: Sequence[DeviceReport], batched: int
) -> list[IntakeOutcome]:
    """What the gateway's worker does with a run of power reports; `batched` taken at once."""
    now, tz = services.clock.now(), services.tz
    held = record_held_reports(services.uow, list(reports), now=now)
    assert sum(outcome is not None for outcome in held) == batched
    return [
        outcome
        if outcome is not None
        else record_device_report(services.uow, report, now=now, tz=tz)
        for report, outcome in zip(reports, held, strict=True)
    ]


def one_by_one(services: Services, reports: Sequence[DeviceReport]) -> list[IntakeOutcome]:
    now, tz = services.clock.now(), services.tz
    return [record_device_report(services.uow, r, now=now, tz=tz) for r in reports]


def storm_rows(services: Services) -> dict[str, list[Any]]:
    """The incident tables and the terminals' history, every column but row ids."""

    def rows(model: type[SQLModel]) -> list[Any]:
        with services.uow() as uow:
            found = [
                sorted(
                    (c.name, getattr(row, c.name))
                    for c in row.__table__.columns  # type: ignore[attr-defined]
                    if c.name not in ("id", "incident_id")
                )
                for row in uow.session.exec(select(model))
            ]
        return sorted(found, key=repr)

    return {
        "incident": rows(Incident),
        "incident_terminal": rows(IncidentTerminal),
        "tech_signal": rows(TechSignal),
        "device_history": rows(DeviceHistory),
    }


REPORTS = (
    *(power(d, 1) for d in DARK[25:33]),  # dark now: they join the open incident
    power("D001", 3),  # back, then dark again: rejoins, no longer counted back
    power("D003", 1),  # resent: duplicate
    power("D035", 1, source=f"serial:{HUB}"),  # behind its hub: joins
    power("D036", 1, source="serial:/dev/ttyUSB9"),  # not behind that hub: rejected
    power("D037", 1),
    power("D037", 2, "restored"),  # twice in the batch: both one by one, in order
    power("NOPE", 1),  # unknown terminal
    power(ELSEWHERE, 1),  # no storm in its district: its own case, as before
    power("D002", 2, "restored"),  # power back: counted back
)


def test_a_storm_batch_answers_and_writes_what_one_report_at_a_time_does(
    twins: tuple[Services, Services],  # noqa: F811 (the fixture)
    clock: FakeClock,
) -> None:
    for services in twins:
        seed(services, clock)
    clock.advance(seconds=5)

    # The 8 newly dark, D001 again, D003's resend, D035 and D002 back: the rest goes alone.
    batched = batch_then_alone(twins[0], REPORTS, 12)
    single = one_by_one(twins[1], REPORTS)

    assert batched == single
    assert everything(twins[0]) == everything(twins[1])
    assert storm_rows(twins[0]) == storm_rows(twins[1])
    [incident] = storm_rows(twins[0])["incident"]
    assert dict(incident)["terminals"] == 35  # 25 + 8 + D035 + D037


def test_the_batch_takes_nothing_before_an_incident_is_open(
    twins: tuple[Services, Services],  # noqa: F811 (the fixture)
    clock: FakeClock,
) -> None:
    services = twins[0]
    for device_id in DARK[:3]:
        seed_elder(services, device_id, contacts=1, district="Huangpu")
    reports = [power(d, 1) for d in DARK[:3]]
    assert record_held_reports(services.uow, reports, now=clock.now()) == [None] * 3


RESTORES = (
    # D033 is back already; of the 31 others, 26 close the incident and 5 find it closed
    # (D030 among them: its device case notes it, one by one).
    *(power(d, 5, "restored") for d in DARK[3:35]),
    power("D001", 5, "restored"),  # back already: only recorded
    power("D002", 5, "restored"),
    power("D002", 6, "restored"),  # twice in the batch: both one by one, in order
    power(ELSEWHERE, 5, "restored"),  # alone in Xuhui: held a while, no case
    power("D036", 5, "restored", source="serial:/dev/ttyUSB9"),  # not behind that hub
    power("NOPE", 5, "restored"),  # unknown terminal
)


def test_a_batch_of_restores_counts_back_and_closes_the_incident_as_one_at_a_time_does(
    twins: tuple[Services, Services],  # noqa: F811 (the fixture)
    clock: FakeClock,
) -> None:
    for services in twins:
        seed(services, clock)
        now = clock.now()
        for device_id in [*DARK[25:35], ELSEWHERE]:
            source = f"serial:{HUB}" if device_id >= "D035" else "mqtt"
            record_device_report(
                services.uow, power(device_id, 1, source=source), now=now, tz=services.tz
            )
        # D033 is back already; D030's battery is low: a device case its restore notes.
        record_device_report(services.uow, power("D033", 4, "restored"), now=now, tz=services.tz)
        low = DeviceReport(EventKey("D030", 1, 2), ReportType.BATTERY, {"level": 10}, "mqtt")
        record_device_report(services.uow, low, now=now, tz=services.tz)
    clock.advance(seconds=5)
    [before] = storm_rows(twins[0])["incident"]
    assert (dict(before)["terminals"], dict(before)["back"]) == (35, 2)  # D001, D033

    # DARK[3:35] but D030 (its case), D001 and E001; D002 twice, D036 and NOPE go alone.
    batched = batch_then_alone(twins[0], RESTORES, 33)
    single = one_by_one(twins[1], RESTORES)

    assert batched == single
    assert everything(twins[0]) == everything(twins[1])
    assert storm_rows(twins[0]) == storm_rows(twins[1])
    [incident] = storm_rows(twins[0])["incident"]
    assert dict(incident)["closed_at"] is not None
    assert dict(incident)["back"] == 28  # 80 % of 35: closed by the 26th of the batch
