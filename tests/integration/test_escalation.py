"""The alerts engine over a real database: ladders climbing, acks, timers, sending and retries."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlmodel import col, select

from alerts.escalation import PRESSED_AGAIN_QUIET_S
from alerts.runtime import AlertsComponent
from care_api.domain.events import CaseStateChanged
from care_api.domain.model import CaseKind, CaseState, DeviceReport, EventKey, ReportType
from care_api.services import Services, build_services
from care_api.store.tables import Case, CaseEvent, Contact, Notification, Timer
from care_api.usecases.cases.actions import acknowledge, resolve
from care_api.usecases.cases.ladders import put_ladder
from care_api.usecases.intake.reports import record_device_report
from tests.conftest import make_settings
from tests.databases import fresh_postgres_database
from tests.fakes import FakeClock
from tests.helpers import add_morning_check_in, press, seed_elder
from tests.twilio_server import RecordingTwilioServer

SUPERVISOR_PHONE = "+8613700000000"
TWILIO_FROM = "+15005550006"


@pytest.fixture
def svc(db_url: str, clock: FakeClock) -> Iterator[Services]:
    services = build_services(make_settings(db_url, supervisor_phone=SUPERVISOR_PHONE), clock=clock)
    yield services
    services.close()


def record(svc: Services, report: DeviceReport) -> str:
    outcome = record_device_report(svc.uow, report, now=svc.clock.now(), tz=svc.tz)
    assert outcome.case_id is not None, outcome
    return outcome.case_id


def contact_keys(svc: Services) -> list[str]:
    with svc.uow() as uow:
        rows = uow.session.exec(select(Contact).order_by(col(Contact.priority))).all()
        return [f"contact:{c.id}" for c in rows]


def notifications(svc: Services, case_id: str | None = None) -> list[Notification]:
    with svc.uow() as uow:
        query = select(Notification).order_by(col(Notification.id))
        if case_id is not None:
            query = query.where(Notification.case_id == case_id)
        rows = list(uow.session.exec(query).all())
        uow.session.expunge_all()  # keep them readable after the unit of work rolls back
        return rows


def who(rows: list[Notification]) -> list[tuple[str, str]]:
    return [(n.channel, n.recipient) for n in rows]


def get_case(svc: Services, case_id: str) -> Case:
    with svc.uow() as uow:
        case = uow.session.get(Case, case_id)
        assert case is not None
        uow.session.expunge(case)
        return case


def history(svc: Services, case_id: str) -> list[tuple[str, str]]:
    with svc.uow() as uow:
        rows = uow.session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.id))
        ).all()
        return [(e.action, e.why) for e in rows]


def alerted_at_step_1(
    svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> tuple[str, list[str], int]:
    """An emergency of an elder with 3 contacts, 2 min on: step 1 has alerted everyone.

    Returns the case, the contacts' keys and how many notifications it has so far.
    """
    seed_elder(svc, contacts=3)
    contacts = contact_keys(svc)
    case_id = record(svc, press())
    alerts.run_pending()
    clock.advance(minutes=2)
    alerts.tick()
    alerts.run_pending()
    return case_id, contacts, len(notifications(svc, case_id))


def test_escalation_unanswered_emergency_climbs_every_step(
    svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(svc, contacts=3)
    first, second, third = contact_keys(svc)
    case_id = record(svc, press())
    alerts.run_pending()  # the fast path: step 0 at once

    step0 = notifications(svc, case_id)
    assert who(step0) == [("sms", first), ("voice", first), ("console", "operators")]
    assert get_case(svc, case_id).state == CaseState.DISPATCHED

    clock.advance(seconds=119)
    assert alerts.tick() == 0
    assert len(notifications(svc, case_id)) == 3  # nothing early

    clock.advance(seconds=1)
    assert alerts.tick() == 1
    alerts.run_pending()
    step1 = notifications(svc, case_id)[3:]
    assert who(step1) == [
        ("sms", second),
        ("voice", second),
        ("sms", third),
        ("voice", third),
        ("console", "operators"),
    ]
    case = get_case(svc, case_id)
    assert (case.state, case.level) == (CaseState.ESCALATED, 1)

    clock.advance(seconds=299)
    assert alerts.tick() == 0
    clock.advance(seconds=1)
    assert alerts.tick() == 1
    alerts.run_pending()
    step2 = notifications(svc, case_id)[8:]
    assert who(step2) == [("sms", "supervisor"), ("voice", "supervisor"), ("console", "operators")]
    assert step2[0].to == SUPERVISOR_PHONE
    assert "CALL 120" in step2[2].body
    assert ("flag", "call 120") in history(svc, case_id)
    assert get_case(svc, case_id).level == 2

    for repeat in (1, 2, 3):  # the last step runs again every 5 min, three times
        clock.advance(seconds=299)
        assert alerts.tick() == 0
        clock.advance(seconds=1)
        assert alerts.tick() == 1
        alerts.run_pending()
        again = notifications(svc, case_id)[8 + 3 * repeat :]
        assert who(again) == who(step2)
        assert f"(repeat {repeat} of 3); CALL 120" in again[2].body
    assert get_case(svc, case_id).level == 2

    clock.advance(hours=1)
    assert alerts.tick() == 0
    rows = notifications(svc, case_id)
    assert len(rows) == 20
    phone_rows = [n for n in rows if n.channel != "console"]
    # No Twilio configured: the local outbox takes every message, once.
    assert {n.status for n in phone_rows} == {"queued"}
    assert all(n.provider_id == f"outbox-{n.id}" and n.attempts == 1 for n in phone_rows)
    assert {n.status for n in rows if n.channel == "console"} == {"delivered"}


def test_escalation_ack_at_step1_stops_the_climb_and_tells_the_others(
    svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    case_id, (first, second, third), before = alerted_at_step_1(svc, alerts, clock)

    with svc.uow() as uow:
        acknowledge(uow, case_id, by=second, now=clock.now(), via="sms")
        uow.commit()
    alerts.run_pending()

    taken = notifications(svc, case_id)[before:]
    assert sorted(who(taken)) == sorted([("sms", first), ("sms", third), ("console", "operators")])
    assert all("is taken by Contact 2" in n.body for n in taken if n.channel == "sms")
    case = get_case(svc, case_id)
    assert (case.state, case.owner) == (CaseState.ACCEPTED, second)

    # Only the closed loop's arming (issue 9): no ladder step, and the "taken" row the
    # acknowledgement wrote was fired by the event's fast path, so it tells nobody twice.
    assert alerts.tick() == 1
    clock.advance(minutes=29)  # the on-site check comes at 30 min (tests/dispatch)
    assert alerts.tick() == 0
    alerts.run_pending()
    assert len(notifications(svc, case_id)) == before + 3
    assert not any(n.recipient == "supervisor" for n in notifications(svc, case_id))


def test_escalation_taken_notices_survive_a_crash_between_the_ack_and_the_alerts(
    svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    case_id, (first, second, third), before = alerted_at_step_1(svc, alerts, clock)

    alerts.detach()  # the process dies after the commit: the event never reaches alerts
    with svc.uow() as uow:
        acknowledge(uow, case_id, by=second, now=clock.now(), via="sms")
        uow.commit()
    with svc.uow() as uow:  # and the owner resolves it at once, before anyone is told
        resolve(uow, case_id, by=second, why="false alarm", now=clock.now())
        uow.commit()
    alerts.run_pending()
    assert len(notifications(svc, case_id)) == before  # nobody told yet

    restarted = AlertsComponent(svc.settings, svc)
    restarted.attach()
    try:
        clock.advance(seconds=5)
        restarted.tick()
        restarted.run_pending()
        taken = notifications(svc, case_id)[before:]
        assert who(taken) == [("sms", first), ("sms", third), ("console", "operators")]
        assert all(
            n.body == f"Case {case_id} is taken by Contact 2, thank you. No need to act."
            for n in taken
            if n.channel == "sms"
        )
        assert {n.status for n in taken if n.channel == "sms"} == {"queued"}  # sent, once

        # The late event, or another sweep, writes nothing again.
        restarted.handle(
            CaseStateChanged(case_id, CaseState.ESCALATED, CaseState.ACCEPTED, second, "T1001")
        )
        restarted.run_pending()
        clock.advance(minutes=1)
        assert restarted.tick() == 0
        assert len(notifications(svc, case_id)) == before + 3
    finally:
        restarted.stop()


def test_escalation_fast_path_and_concurrent_sweep_run_step0_once(
    svc: Services, clock: FakeClock
) -> None:
    component = AlertsComponent(svc.settings, svc)  # not attached: the test is the bus
    cases = []
    for i in range(6):
        seed_elder(svc, f"T{i}", contacts=1)
        cases.append(record(svc, press(f"T{i}")))
    barrier = threading.Barrier(2)
    now = clock.now()

    def fast_paths() -> None:
        barrier.wait()
        for case_id in cases:
            component.sweeper.fire(case_id=case_id, purpose="ladder", step=0, now=now)

    def sweep() -> None:
        barrier.wait()
        component.sweeper.sweep_due(now)

    threads = [threading.Thread(target=fast_paths), threading.Thread(target=sweep)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    for case_id in cases:
        assert len(notifications(svc, case_id)) == 3, case_id
    with svc.uow() as uow:
        timers = uow.session.exec(select(Timer)).all()
        assert sorted((t.step, t.fired_at is not None) for t in timers) == sorted(
            [(0, True)] * 6 + [(1, False)] * 6
        )
    component.stop()


@pytest.mark.external_service
def test_escalation_two_sweepers_on_postgres_fire_each_timer_once(clock: FakeClock) -> None:
    with fresh_postgres_database() as url:
        settings = make_settings(url, supervisor_phone=SUPERVISOR_PHONE)
        one = build_services(settings, clock=clock)
        two = build_services(settings, clock=clock, migrate=False)
        try:
            sweepers = [AlertsComponent(settings, s) for s in (one, two)]
            cases = []
            for i in range(20):
                seed_elder(one, f"T{i:02d}", contacts=2)
                cases.append(record(one, press(f"T{i:02d}")))
            for step, advance_s in ((0, 0), (1, 120), (2, 300)):
                clock.advance(seconds=advance_s)
                fired = race_sweeps(sweepers, clock)
                assert sum(fired) == len(cases), (step, fired)
            for case_id in cases:
                rows = notifications(one, case_id)
                steps = [n.idempotency_key.split(":")[2] for n in rows if n.idempotency_key]
                assert steps.count("0") == 3 and steps.count("1") == 3 and steps.count("2") == 3
        finally:
            one.close()
            two.close()


def race_sweeps(components: list[AlertsComponent], clock: FakeClock) -> list[int]:
    barrier = threading.Barrier(len(components))
    fired = [0] * len(components)

    def run(i: int) -> None:
        barrier.wait()
        fired[i] = components[i].sweeper.sweep_due(clock.now())

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(components))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return fired


def test_escalation_restart_fires_a_lost_step0_once_and_sends_orphaned_rows(
    svc: Services, clock: FakeClock
) -> None:
    seed_elder(svc, contacts=1)
    case_id = record(svc, press())  # nobody listening: as if we died right after the commit
    before_restart = AlertsComponent(svc.settings, svc)
    assert before_restart.sweeper.sweep_due(clock.now()) == 1  # rows written, never sent
    pending = [n for n in notifications(svc, case_id) if n.channel != "console"]
    assert {n.status for n in pending} == {"pending"}

    after_restart = AlertsComponent(svc.settings, svc)
    assert after_restart.tick() == 0  # step 0 is fired already: not again
    after_restart.run_pending()
    assert {n.status for n in notifications(svc, case_id) if n.channel != "console"} == {"pending"}
    clock.advance(seconds=30)  # the grace for rows handed to a sender that died
    after_restart.tick()
    after_restart.run_pending()
    sent = [n for n in notifications(svc, case_id) if n.channel != "console"]
    assert [(n.status, n.attempts) for n in sent] == [("queued", 1), ("queued", 1)]
    clock.advance(minutes=5)
    after_restart.tick()  # steps 1 and 2 (step 1 finds nobody else to call and hands on)
    after_restart.run_pending()
    first_contact = [n for n in notifications(svc, case_id) if n.recipient == "contact:1"]
    assert [n.attempts for n in first_contact] == [1, 1]


def test_escalation_device_case_tells_first_contact_and_technician(
    svc: Services, alerts: AlertsComponent
) -> None:
    seed_elder(svc, contacts=2)
    first, _ = contact_keys(svc)
    battery = DeviceReport(EventKey("T1001", 7, 50), ReportType.BATTERY, {"level": 12})
    case_id = record(svc, battery)
    alerts.run_pending()
    rows = notifications(svc, case_id)
    assert who(rows) == [("sms", first), ("console", "technician")]
    assert "battery low" in rows[0].body
    assert get_case(svc, case_id).state == CaseState.OPEN  # informed, not asked to take it


def test_escalation_service_case_goes_to_the_operator_console(
    svc: Services, alerts: AlertsComponent
) -> None:
    seed_elder(svc, contacts=2)
    case_id = record(svc, press(pattern="single"))
    alerts.run_pending()
    assert who(notifications(svc, case_id)) == [("console", "operators")]


def test_escalation_elder_cancel_tells_console_to_check_in(
    svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(svc, contacts=2)
    first, _ = contact_keys(svc)
    case_id = record(svc, press(seq=42))
    alerts.run_pending()
    record(svc, DeviceReport(EventKey("T1001", 7, 43), ReportType.CANCEL, {"ref_seq": 42}))
    alerts.run_pending()
    rows = notifications(svc, case_id)[3:]
    assert who(rows) == [("console", "operators"), ("sms", first)]
    assert "elder cancelled — check in" in rows[0].body
    clock.advance(minutes=10)
    assert alerts.tick() == 1  # the step-1 timer fires and does nothing: the case is cancelled
    assert len(notifications(svc, case_id)) == 5


def test_escalation_pressed_again_tells_console_and_the_owner(
    svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(svc, contacts=2)
    first, _ = contact_keys(svc)
    case_id = record(svc, press(seq=42))
    alerts.run_pending()
    record(svc, press(seq=44))  # unowned: everyone alerted hears of it
    alerts.run_pending()
    assert who(notifications(svc, case_id)[3:]) == [("console", "operators"), ("sms", first)]

    with svc.uow() as uow:
        acknowledge(uow, case_id, by=first, now=clock.now(), via="api")
        uow.commit()
    alerts.run_pending()
    count = len(notifications(svc, case_id))
    record(svc, press(seq=45))
    alerts.run_pending()
    again = notifications(svc, case_id)[count:]
    assert who(again) == [("console", "operators"), ("sms", first)]
    assert "pressed the button again" in again[1].body


def test_escalation_presses_again_on_several_cases_tell_each_once_together(
    svc: Services, alerts: AlertsComponent
) -> None:
    # After a burst every terminal presses again within a second: the notices of the
    # presses again queued in a row are written in one transaction, each case's as alone.
    cases = []
    for n, device in enumerate(("T1001", "T1002", "T1003")):
        seed_elder(svc, device, contacts=1, phone=f"+861380000000{n}")
        cases.append(record(svc, press(device, seq=42)))
    alerts.run_pending()
    before = {case_id: len(notifications(svc, case_id)) for case_id in cases}
    for device in ("T1001", "T1002", "T1003"):
        record(svc, press(device, seq=43))
        record(svc, press(device, seq=44))  # told of once per window
    alerts.run_pending()
    for case_id in cases:
        again = notifications(svc, case_id)[before[case_id] :]
        assert [channel for channel, _ in who(again)] == ["console", "sms"], case_id
        assert "pressed the button again" in again[1].body


def test_escalation_a_vanished_case_among_presses_again_leaves_the_others_told(
    svc: Services, alerts: AlertsComponent
) -> None:
    seed_elder(svc, contacts=1)
    case_id = record(svc, press(seq=42))
    alerts.run_pending()
    before = len(notifications(svc, case_id))
    alerts.escalation.notify_pressed_again_many(["no-such-case", case_id])
    assert who(notifications(svc, case_id)[before:])[0] == ("console", "operators")


def twilio_settings(svc: Services, server: RecordingTwilioServer) -> object:
    return make_settings(
        svc.settings.database_url,
        supervisor_phone=SUPERVISOR_PHONE,
        twilio_account_sid=server.account_sid,
        twilio_auth_token=server.auth_token,
        twilio_from=TWILIO_FROM,
        twilio_api_url=server.base_url,
    )


def test_escalation_with_twilio_messages_reach_the_server_through_the_real_client(
    svc: Services,
) -> None:
    seed_elder(svc, contacts=1)
    with RecordingTwilioServer() as server:
        svc.settings = twilio_settings(svc, server)  # type: ignore[assignment]
        component = AlertsComponent(svc.settings, svc)
        component.attach()
        try:
            case_id = record(svc, press())
            component.run_pending()
        finally:
            component.stop()
        [sms] = server.messages()
        [call] = server.calls()
    assert sms.auth_ok and sms.form["To"] == "+8613900000000" and sms.form["From"] == TWILIO_FROM
    assert "Wang Fang" in sms.form["Body"] and "Reply 1" in sms.form["Body"]
    assert '<Say language="en">' in call.form["Twiml"] and "Wang Fang" in call.form["Twiml"]
    rows = [n for n in notifications(svc, case_id) if n.channel != "console"]
    assert [n.status for n in rows] == ["sent", "sent"]
    assert rows[0].provider_id and rows[0].provider_id.startswith("SM")
    assert rows[1].provider_id and rows[1].provider_id.startswith("CA")


def test_escalation_failing_provider_row_failed_then_retried_and_sent_once(
    svc: Services, clock: FakeClock
) -> None:
    seed_elder(svc, contacts=1)
    with RecordingTwilioServer() as server:
        svc.settings = twilio_settings(svc, server)  # type: ignore[assignment]
        component = AlertsComponent(svc.settings, svc)
        component.attach()
        try:
            server.fail_next(1, status=503)
            case_id = record(svc, press())
            component.run_pending()
            sms = next(n for n in notifications(svc, case_id) if n.channel == "sms")
            assert (sms.status, sms.attempts, sms.provider_id) == ("failed", 1, None)
            assert sms.next_attempt_at == clock.now() + timedelta(seconds=10)
            assert "503" in (sms.detail or "")

            component.tick()  # not due yet
            component.run_pending()
            assert len(server.messages()) == 1
            clock.advance(seconds=10)
            component.tick()
            component.run_pending()
            for _ in range(3):
                clock.advance(minutes=5)
                component.tick()
                component.run_pending()
        finally:
            component.stop()
        requests = [r for r in server.messages() if r.form["To"] == "+8613900000000"]
    assert len(requests) == 2  # the refused one and the one that went out: no third
    sms = next(n for n in notifications(svc, case_id) if n.channel == "sms")
    assert (sms.status, sms.attempts) == ("sent", 2)
    assert sms.provider_id and sms.provider_id.startswith("SM")


def test_escalation_retry_of_an_alert_is_skipped_once_the_case_is_taken(
    svc: Services, clock: FakeClock
) -> None:
    seed_elder(svc, contacts=2)
    first, _ = contact_keys(svc)
    with RecordingTwilioServer() as server:
        svc.settings = twilio_settings(svc, server)  # type: ignore[assignment]
        component = AlertsComponent(svc.settings, svc)
        component.attach()
        try:
            server.fail_next(1, status=500)
            case_id = record(svc, press())
            component.run_pending()
            with svc.uow() as uow:
                acknowledge(uow, case_id, by=first, now=clock.now(), via="voice")
                uow.commit()
            component.run_pending()
            clock.advance(seconds=10)
            component.tick()
            component.run_pending()
        finally:
            component.stop()
        assert len(server.messages()) == 1  # only the failed attempt
    sms = next(n for n in notifications(svc, case_id) if n.channel == "sms")
    assert sms.status == "skipped"


ELDER_PHONE = "+8613800000000"  # seed_elder's elder


def missed_check_in(svc: Services, component: AlertsComponent, clock: FakeClock) -> str:
    """Monday's 08:00–10:00 window missed: the timer opens the care case and queues the call."""
    elder_id, _ = seed_elder(svc, contacts=1)
    add_morning_check_in(svc, elder_id, clock.now())
    clock.advance(hours=18)  # Sunday 16:00 → Monday 10:00 in Shanghai: the window closes
    component.tick()  # the check opens the case and queues the call to the elder, unsent
    [call] = [n for n in notifications(svc) if n.channel == "voice"]
    assert (call.to, call.status, call.recipient) == (ELDER_PHONE, "pending", f"elder:{elder_id}")
    assert call.case_id is not None
    return call.case_id


def check_in_late(svc: Services, clock: FakeClock, case_id: str) -> None:
    clock.advance(minutes=5)
    outcome = record_device_report(
        svc.uow, press(seq=1, pattern="single"), now=clock.now(), tz=svc.tz
    )
    assert outcome.case_id == case_id  # the late check-in, not a new service request


def elder_call(svc: Services, case_id: str) -> Notification:
    [call] = [n for n in notifications(svc, case_id) if n.to == ELDER_PHONE]
    return call


def test_escalation_late_check_in_cancels_the_elders_call_waiting_for_a_retry(
    svc: Services, clock: FakeClock
) -> None:
    with RecordingTwilioServer() as server:
        svc.settings = twilio_settings(svc, server)  # type: ignore[assignment]
        component = AlertsComponent(svc.settings, svc)
        component.attach()
        try:
            server.fail_next(1, status=503)
            case_id = missed_check_in(svc, component, clock)
            component.run_pending()  # the call is placed and fails: retry in 10 s
            call = elder_call(svc, case_id)
            assert (call.status, call.attempts) == ("failed", 1)
            assert call.next_attempt_at is not None

            check_in_late(svc, clock, case_id)
            component.run_pending()
            for _ in range(4):  # well past every retry the backoff would have made
                clock.advance(minutes=10)
                component.tick()
                component.run_pending()
        finally:
            component.stop()
        calls = [r for r in server.calls() if r.form["To"] == ELDER_PHONE]
    assert len(calls) == 1  # only the attempt that failed before the check-in
    call = elder_call(svc, case_id)
    assert (call.status, call.detail, call.attempts) == ("skipped", "cancelled: checked in late", 1)
    assert call.next_attempt_at is None and call.provider_id is None


def test_escalation_late_check_in_stops_a_queued_call_even_if_the_sender_gets_there_first(
    svc: Services, clock: FakeClock
) -> None:
    with RecordingTwilioServer() as server:
        svc.settings = twilio_settings(svc, server)  # type: ignore[assignment]
        component = AlertsComponent(svc.settings, svc)
        component.attach()
        try:
            case_id = missed_check_in(svc, component, clock)
            check_in_late(svc, clock, case_id)
            # The sender thread takes the queued call before the events thread has handled
            # the check-in: the claim itself sees the check-in and skips the call.
            component.sender.drain()
            assert elder_call(svc, case_id).status == "skipped"
            component.run_pending()
            clock.advance(minutes=10)
            component.tick()
            component.run_pending()
        finally:
            component.stop()
        assert [r for r in server.calls() if r.form["To"] == ELDER_PHONE] == []
    call = elder_call(svc, case_id)
    assert (call.status, call.detail, call.attempts) == ("skipped", "cancelled: checked in late", 0)


def test_component_start_runs_threads_and_stops_cleanly(svc: Services) -> None:
    svc.settings = make_settings(svc.settings.database_url, timer_sweep_interval_s=0.05)
    seed_elder(svc, contacts=1)
    component = AlertsComponent(svc.settings, svc)
    component.start()
    try:
        case_id = record(svc, press())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            rows = notifications(svc, case_id)
            if len(rows) == 3 and all(n.status in ("queued", "delivered") for n in rows):
                break
            time.sleep(0.02)  # waiting for the worker threads, not for time to pass
        assert [n.status for n in notifications(svc, case_id)] == ["queued", "queued", "delivered"]
        health = component.health()
        assert health["running"] is True and health["timers_fired"] >= 1
    finally:
        component.stop()
    names = {t.name for t in threading.enumerate()}
    assert not names & {"alerts-sender", "alerts-events"}


def test_escalation_follows_the_ladder_an_admin_saved(
    svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(svc, contacts=2)
    first, second = contact_keys(svc)
    steps = [
        {"after_s": 0, "notify": [{"audience": "contacts_all", "channels": ["sms"]}]},
        {"after_s": 30, "notify": [{"audience": "operators", "channels": ["console"]}]},
    ]
    with svc.uow() as uow:
        put_ladder(uow.session, CaseKind.EMERGENCY, steps, by="admin:admin", now=clock.now())
        uow.commit()
    case_id = record(svc, press())
    alerts.run_pending()
    assert who(notifications(svc, case_id)) == [("sms", first), ("sms", second)]
    clock.advance(seconds=30)
    assert alerts.tick() == 1
    assert who(notifications(svc, case_id))[2:] == [("console", "operators")]


@pytest.mark.external_service
def test_escalation_sweep_leaves_a_case_being_acknowledged_for_later(clock: FakeClock) -> None:
    with fresh_postgres_database() as url:
        svc = build_services(make_settings(url), clock=clock)
        try:
            seed_elder(svc, contacts=1)
            case_id = record(svc, press())
            component = AlertsComponent(svc.settings, svc)
            with svc.uow() as holder:  # someone acknowledging holds the case row
                holder.session.exec(select(Case).where(Case.id == case_id).with_for_update()).one()
                assert component.sweeper.sweep_due(clock.now()) == 0
            assert component.sweeper.sweep_due(clock.now()) == 1
            assert len(notifications(svc, case_id)) == 3
        finally:
            svc.close()


def test_escalation_many_presses_in_a_minute_make_one_pressed_again_message(
    svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(svc, contacts=1)
    case_id = record(svc, press(seq=42))
    alerts.run_pending()
    opened = len(notifications(svc, case_id))
    for seq in (43, 44, 45):  # a nervous elder, or a stuck button
        record(svc, press(seq=seq))
        alerts.run_pending()
    assert len(notifications(svc, case_id)) == opened + 2  # the console and the contact, once

    clock.advance(seconds=PRESSED_AGAIN_QUIET_S)
    record(svc, press(seq=46))
    alerts.run_pending()
    assert len(notifications(svc, case_id)) == opened + 4
