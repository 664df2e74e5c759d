"""Intake over the real store (SQLite file and PostgreSQL): dedup, keymap, cases."""

from sqlmodel import select

from care_api.domain.model import CaseKind, DeviceReport, EventKey, IntakeStatus, ReportType
from care_api.services import Services
from care_api.store.tables import Case, CaseEvent, DeviceEvent, Timer
from care_api.usecases.intake.reports import record_device_report
from care_api.usecases.people.registry import update_elder
from tests.helpers import press, seed_elder


def record(services: Services, report: DeviceReport):
    return record_device_report(services.uow, report, now=services.clock.now(), tz=services.tz)


def test_intake_long_press_opens_emergency_with_history_and_timer(services: Services) -> None:
    seed_elder(services)
    out = record(services, press())
    assert out.status is IntakeStatus.ACCEPTED
    assert out.kind is CaseKind.EMERGENCY
    assert out.case_id == "C-20261122-0001"
    with services.uow() as uow:
        case = uow.session.get(Case, out.case_id)
        assert case is not None and case.state == "open" and case.device_id == "T1001"
        history = uow.session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
        assert [h.action for h in history] == ["opened"]
        timers = uow.session.exec(select(Timer).where(Timer.case_id == case.id)).all()
        assert [(t.purpose, t.step) for t in timers] == [("ladder", 0)]


def test_intake_resent_press_returns_same_case(services: Services) -> None:
    seed_elder(services)
    first = record(services, press())
    again = record(services, press())
    assert (again.status, again.case_id) == (IntakeStatus.DUPLICATE, first.case_id)
    with services.uow() as uow:
        assert len(uow.session.exec(select(Case)).all()) == 1


def test_intake_new_boot_small_seq_is_new_event(services: Services) -> None:
    seed_elder(services)
    record(services, press(boot=7, seq=1, pattern="single"))
    out = record(services, press(boot=8, seq=1, pattern="single"))
    assert out.status is IntakeStatus.ACCEPTED
    with services.uow() as uow:
        assert len(uow.session.exec(select(DeviceEvent)).all()) == 2


def test_intake_unknown_device_rejected_and_nothing_written(services: Services) -> None:
    out = record(services, press(device_id="NOPE"))
    assert (out.status, out.reason) == (IntakeStatus.REJECTED, "unknown device")
    with services.uow() as uow:
        assert uow.session.exec(select(DeviceEvent)).all() == []


def test_intake_elder_keymap_override_applies(services: Services) -> None:
    elder_id, _ = seed_elder(services)
    with services.uow() as uow:
        update_elder(uow.session, elder_id, {"keymap_override": {"*": "emergency"}})
        uow.commit()
    assert record(services, press(pattern="single")).kind is CaseKind.EMERGENCY


def test_intake_repeated_presses_join_the_open_case(services: Services) -> None:
    seed_elder(services)
    outs = [record(services, press(seq=i)) for i in range(20)]
    assert {o.case_id for o in outs} == {outs[0].case_id}
    with services.uow() as uow:
        actions = [e.action for e in uow.session.exec(select(CaseEvent)).all()]
    assert actions.count("opened") == 1 and actions.count("pressed_again") == 19


def test_intake_cancel_of_unowned_press_cancels_case(services: Services) -> None:
    seed_elder(services)
    opened = record(services, press(seq=5))
    out = record(services, DeviceReport(EventKey("T1001", 7, 6), ReportType.CANCEL, {"ref_seq": 5}))
    assert out.case_id == opened.case_id
    with services.uow() as uow:
        assert uow.session.get(Case, opened.case_id).state == "cancelled"


def test_intake_heartbeat_opens_no_case_and_updates_device(services: Services) -> None:
    seed_elder(services)
    out = record(
        services,
        DeviceReport(EventKey("T1001", 7, 1), ReportType.HEARTBEAT, {"battery": 88, "rssi": -71}),
    )
    assert (out.status, out.case_id) == (IntakeStatus.ACCEPTED, None)


def test_intake_case_numbers_count_up_per_day(services: Services) -> None:
    seed_elder(services, "T1")
    seed_elder(services, "T2")
    a = record(services, press(device_id="T1"))
    b = record(services, press(device_id="T2"))
    assert (a.case_id, b.case_id) == ("C-20261122-0001", "C-20261122-0002")
