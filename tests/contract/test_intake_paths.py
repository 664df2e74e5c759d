"""One intake, two paths: the gateway's press batch and one report at a time write the same.

The same reports go through `record_presses` and through `record_device_report` on two
databases seeded alike; every column of every row they write (cases, their history, the
terminals' events, timers, the terminals themselves) and every event published must match.
Row ids are replaced by what they point at, since two insertion orders may number them apart.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import SQLModel, select

from care_api.domain.events import CaseOpened, CasePressedAgain, CaseStateChanged
from care_api.domain.model import CaseState, DeviceReport, IntakeOutcome
from care_api.services import Services, build_services
from care_api.store.tables import Case, CaseEvent, Device, DeviceEvent, Timer
from care_api.usecases.cases.actions import acknowledge
from care_api.usecases.fleet.device_cases import open_outage
from care_api.usecases.intake.batch import record_presses
from care_api.usecases.intake.reports import record_device_report
from care_api.usecases.people.registry import provision_device
from care_api.usecases.schedules.drills import start_drill
from tests.conftest import make_settings
from tests.databases import database_url
from tests.fakes import FakeClock
from tests.helpers import press, seed_elder


def batch(services: Services, reports: Sequence[DeviceReport]) -> list[IntakeOutcome]:
    return record_presses(services.uow, list(reports), now=services.clock.now(), tz=services.tz)


def one_by_one(services: Services, reports: Sequence[DeviceReport]) -> list[IntakeOutcome]:
    now, tz = services.clock.now(), services.tz
    return [record_device_report(services.uow, r, now=now, tz=tz) for r in reports]


def _columns(row: SQLModel, drop: set[str]) -> dict[str, Any]:
    return {c.name: getattr(row, c.name) for c in row.__table__.columns if c.name not in drop}  # type: ignore[attr-defined]


def everything(services: Services) -> dict[str, list[Any]]:
    """Every column of every row intake writes; row ids replaced by what they name."""
    with services.uow() as uow:
        s = uow.session
        events = list(s.exec(select(DeviceEvent)))
        key_of = {e.id: (e.device_id, e.boot, e.seq) for e in events}

        def rows(model: type[SQLModel], drop: set[str] = frozenset({"id"})) -> list[Any]:
            out = []
            for row in s.exec(select(model)):
                cols = _columns(row, set(drop))
                if "device_event_id" in cols:
                    cols["device_event_id"] = key_of.get(cols["device_event_id"])
                out.append(sorted(cols.items(), key=lambda kv: kv[0]))
            return sorted(out, key=repr)

        return {
            "device_event": rows(DeviceEvent),
            "care_case": rows(Case, {"id"}) + rows(Case, set()),  # ids are case numbers
            "case_event": rows(CaseEvent),
            "timer": rows(Timer),
            "device": rows(Device, {"secret_hash", "broker_hash"}),
        }


@pytest.fixture
def twins(db_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[tuple[Services, Services]]:
    """Two services on two databases of the same kind, fed the same clock."""
    kind = "sqlite" if db_url.startswith("sqlite") else "postgres"
    (tmp_path / "twin").mkdir()
    with database_url(kind, tmp_path / "twin") as other_url:
        first = build_services(make_settings(db_url), clock=clock)
        second = build_services(make_settings(other_url), clock=clock)
        try:
            yield first, second
        finally:
            first.close()
            second.close()


def seed(services: Services) -> None:
    """T1 and T3 share an elder; T2, DRL (in a drill), HUB (behind a serial line) and OUT
    (silent: a device case open) have their own."""
    now = services.clock.now()
    elder_id, _ = seed_elder(services, "T1")
    seed_elder(services, "T2", name="Li Wei")
    seed_elder(services, "DRL", name="Chen Hua")
    seed_elder(services, "HUB", name="Zhou Min", hub_port="/dev/ttyUSB0")
    seed_elder(services, "OUT", name="Wu Lan")
    with services.uow() as uow:
        provision_device(uow.session, "T3", elder_id, now)
        start_drill(uow.session, device_id="DRL", district=None, note="", by="t", now=now)
        silent = uow.session.get(Device, "OUT")
        assert silent is not None
        open_outage(
            uow, silent, last_heard=now, trigger="silent", by="system", now=now, tz=services.tz
        )
        uow.commit()


def prepare(twins: tuple[Services, Services], clock: FakeClock) -> None:
    """Both databases alike; T2's elder has an emergency someone took 30 s ago."""
    for services in twins:
        seed(services)
        first = record_device_report(
            services.uow, press("T2", seq=1), now=clock.now(), tz=services.tz
        )
        assert first.case_id is not None
        with services.uow() as uow:
            acknowledge(uow, first.case_id, by="contact:1", now=clock.now(), via="sms")
            uow.commit()
    clock.advance(seconds=30)


REPORTS = (
    press("T1", seq=1, pattern="long"),  # opens an emergency
    press("T2", seq=2, pattern="long"),  # joins the taken emergency of T2's elder
    press("T1", seq=2, pattern="triple"),  # joins T1's emergency opened in this batch
    press("T1", seq=1, pattern="long"),  # resent in the same batch: duplicate
    press("T2", seq=1, pattern="long"),  # resent from before: duplicate of the taken case
    press("NOPE", seq=1),  # unknown device
    press("T1", seq=3, pattern="single"),  # a service case of T1's elder
    press("T3", seq=1, pattern="double"),  # T3 shares T1's elder: a care case
    press("T3", seq=2, pattern="long", button="sos"),  # joins the emergency T1 opened
    press("DRL", seq=1, pattern="long"),  # a drill case
    press("DRL", seq=2, pattern="long"),  # joins the drill case
    press("HUB", seq=1, pattern="long"),  # over MQTT: taken (a hub port is no MQTT ban)
    press("OUT", seq=1, pattern="long"),  # a silent terminal is back: its device case settles
)


def serial(report: DeviceReport, port: str) -> DeviceReport:
    return DeviceReport(report.key, report.type, report.fields, source=f"serial:{port}")


SERIAL = (
    serial(press("HUB", seq=2), "/dev/ttyUSB0"),  # behind this hub: joins HUB's emergency
    serial(press("T1", seq=9), "/dev/ttyUSB0"),  # not behind it: rejected
    serial(press("HUB", seq=3), "/dev/ttyUSB1"),  # another hub: rejected
)


@pytest.mark.parametrize(
    "reports", [REPORTS, SERIAL, REPORTS + SERIAL], ids=["mqtt", "serial", "both"]
)
def test_batch_and_single_paths_answer_write_and_publish_the_same(
    twins: tuple[Services, Services], clock: FakeClock, reports: tuple[DeviceReport, ...]
) -> None:
    published: dict[int, list[object]] = {0: [], 1: []}
    prepare(twins, clock)
    for n, services in enumerate(twins):
        for kind in (CaseOpened, CasePressedAgain, CaseStateChanged):
            services.bus.subscribe(kind, published[n].append)

    batched = batch(twins[0], reports)
    single = one_by_one(twins[1], reports)

    assert batched == single
    assert everything(twins[0]) == everything(twins[1])
    assert published[0] == published[1]


def test_a_press_joining_a_case_states_its_state_the_same_on_both_paths(
    twins: tuple[Services, Services], clock: FakeClock
) -> None:
    prepare(twins, clock)
    [b] = batch(twins[0], [press("T2", seq=7)])
    [s] = one_by_one(twins[1], [press("T2", seq=7)])
    assert b == s
    with twins[0].uow() as uow:
        case = uow.session.get(Case, b.case_id)
        assert case is not None and case.state == CaseState.ACCEPTED
