"""Batched press intake over the real store: the same answers as one report at a time."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import col, select

import care_api.usecases.intake.batch as press_intake
from care_api.domain.model import DeviceReport, IntakeOutcome, IntakeStatus
from care_api.services import Services
from care_api.store.tables import Case, CaseDeadline, CaseEvent, Device, DeviceEvent, Timer
from care_api.usecases.intake.batch import record_presses
from care_api.usecases.intake.reports import record_device_report
from tests.helpers import press, seed_elder


def batch(services: Services, *reports: DeviceReport) -> list[IntakeOutcome]:
    return record_presses(services.uow, list(reports), now=services.clock.now(), tz=services.tz)


def one_by_one(services: Services, *reports: DeviceReport) -> list[IntakeOutcome]:
    now, tz = services.clock.now(), services.tz
    return [record_device_report(services.uow, r, now=now, tz=tz) for r in reports]


def snapshot(services: Services) -> dict[str, Any]:
    """What a reader of the database sees, without ids that depend on insertion order."""
    with services.uow() as uow:
        s = uow.session
        return {
            "events": sorted(
                (e.device_id, e.boot, e.seq, e.case_id, repr(e.fields), e.source)
                for e in s.exec(select(DeviceEvent))
            ),
            "cases": sorted(
                (c.id, c.kind, c.line, c.state, c.elder_id, c.device_id, c.summary)
                for c in s.exec(select(Case))
            ),
            "history": sorted(
                (h.case_id, h.action, h.by, h.why, repr(h.why_msg), h.to_state, h.at)
                for h in s.exec(select(CaseEvent))
            ),
            "timers": sorted((t.case_id, t.purpose, t.step) for t in s.exec(select(Timer))),
            "seen": sorted(
                (d.device_id, d.online, d.last_seen_at is not None) for d in s.exec(select(Device))
            ),
        }


MIXED = (
    press("T1", seq=1, pattern="long"),  # opens an emergency
    press("T2", seq=1, pattern="single"),  # another elder: a service case
    press("T1", seq=2, pattern="triple"),  # joins T1's emergency
    press("T1", seq=1, pattern="long"),  # the first one resent: duplicate, same case
    press("NOPE", seq=1),  # unknown device
    press("T1", seq=3, pattern="single"),  # a service case of T1's elder
    press("T3", seq=1, pattern="double"),  # T3 shares T1's elder: care case
    press("T3", seq=2, pattern="long"),  # joins the emergency T1 opened
    press("T1", seq=4, button="medical"),  # care on the medical line: not T3's life care
    press("T3", seq=3, pattern="single", button="life"),  # life care: joins T1's service case
    press("T1", seq=5, button="sos"),  # emergency aid: joins the emergency
)


def seed(services: Services) -> None:
    elder_id, _ = seed_elder(services, "T1")
    seed_elder(services, "T2")
    from care_api.usecases.people.registry import provision_device

    with services.uow() as uow:
        provision_device(uow.session, "T3", elder_id, services.clock.now())
        uow.commit()


def test_press_batch_answers_and_writes_as_one_by_one(
    services: Services, tmp_path: Any, clock: Any
) -> None:
    from care_api.services import build_services
    from tests.conftest import make_settings

    other = build_services(make_settings(f"sqlite:///{tmp_path / 'other.db'}"), clock=clock)
    try:
        seed(services)
        seed(other)
        batched = batch(services, *MIXED)
        single = one_by_one(other, *MIXED)
        assert batched == single
        assert snapshot(services) == snapshot(other)
        cases = [o.case_id for o in batched]
        # Medical nursing never folds into life care; same lines join whatever the button.
        assert cases[8] not in (cases[6], None)
        assert (cases[9], cases[10]) == (cases[5], cases[0])
    finally:
        other.close()


def test_press_batch_resent_key_is_duplicate_with_its_case(services: Services) -> None:
    seed_elder(services, "T1")
    (first,) = batch(services, press("T1", seq=5))
    again, fresh = batch(services, press("T1", seq=5), press("T1", seq=6))
    assert (again.status, again.case_id) == (IntakeStatus.DUPLICATE, first.case_id)
    assert (fresh.status, fresh.case_id) == (IntakeStatus.ACCEPTED, first.case_id)
    with services.uow() as uow:
        assert len(uow.session.exec(select(DeviceEvent)).all()) == 2


def test_press_batch_key_committed_meanwhile_falls_back_to_one_by_one(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_elder(services, "T1")
    (first,) = batch(services, press("T1", seq=5))
    # As if another gateway committed seq 5 after this batch looked for it.
    read = press_intake.facts
    monkeypatch.setattr(press_intake, "facts", lambda c, r, e: ({}, read(c, r, e)[1]))

    again, fresh = batch(services, press("T1", seq=5), press("T1", seq=6))

    assert (again.status, again.case_id) == (IntakeStatus.DUPLICATE, first.case_id)
    assert fresh.status is IntakeStatus.ACCEPTED
    with services.uow() as uow:
        keys = uow.session.exec(select(DeviceEvent.seq).order_by(col(DeviceEvent.seq))).all()
        assert keys == [5, 6]
        assert len(uow.session.exec(select(Case)).all()) == 1


def test_press_batch_opening_a_case_falls_back_on_a_key_committed_meanwhile(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On PostgreSQL a batch that opens a case writes its events first, on their own: the
    # key must fail there too, before any case is numbered or written.
    seed_elder(services, "T1")
    (first,) = batch(services, press("T1", seq=5))
    read = press_intake.facts
    monkeypatch.setattr(press_intake, "facts", lambda c, r, e: ({}, read(c, r, e)[1]))

    again, opener = batch(services, press("T1", seq=5), press("T1", seq=6, pattern="single"))

    assert (again.status, again.case_id) == (IntakeStatus.DUPLICATE, first.case_id)
    assert opener.status is IntakeStatus.ACCEPTED and opener.case_id != first.case_id
    with services.uow() as uow:
        cases = uow.session.exec(select(Case.id).order_by(col(Case.id))).all()
        assert cases == sorted([first.case_id, opener.case_id])
        assert len(uow.session.exec(select(DeviceEvent)).all()) == 2


def test_press_batch_numbers_cases_in_press_order(services: Services) -> None:
    for i in range(1, 4):
        seed_elder(services, f"T{i}")
    outcomes = batch(services, *(press(f"T{i}", seq=1) for i in (3, 1, 2)))
    assert [o.case_id for o in outcomes] == [f"C-20261122-000{i}" for i in (1, 2, 3)]


def test_press_batch_publishes_events_only_after_commit(services: Services) -> None:
    from care_api.domain.events import CaseOpened, CasePressedAgain

    seen: list[object] = []
    services.bus.subscribe(CaseOpened, seen.append)
    services.bus.subscribe(CasePressedAgain, seen.append)
    seed_elder(services, "T1")
    batch(services, press("T1", seq=1), press("T1", seq=2))
    assert [type(e).__name__ for e in seen] == ["CaseOpened", "CasePressedAgain"]


def test_press_batch_refuses_other_report_types(services: Services) -> None:
    from care_api.domain.model import EventKey, ReportType

    heartbeat = DeviceReport(EventKey("T1", 1, 1), ReportType.HEARTBEAT, {})
    with pytest.raises(TypeError, match="presses only"):
        batch(services, heartbeat)


def test_press_batch_never_folds_lines_and_gives_consults_their_deadline(
    services: Services,
) -> None:
    seed_elder(services, "T1")
    outcomes = batch(
        services,
        press("T1", seq=1, button="legal"),
        press("T1", seq=2, button="care_home"),
        press("T1", seq=3, button="legal", pattern="single"),  # joins the legal matter
    )
    legal, care_home, again = (o.case_id for o in outcomes)
    assert len({legal, care_home}) == 2
    assert again == legal
    with services.uow() as uow:
        cases = {c.id: c for c in uow.session.exec(select(Case))}
        deadlines = {d.case_id for d in uow.session.exec(select(CaseDeadline))}
    assert {(c.kind, c.line) for c in cases.values()} == {
        ("consult", "legal"),
        ("consult", "care_home"),
    }
    assert deadlines == {legal, care_home}
