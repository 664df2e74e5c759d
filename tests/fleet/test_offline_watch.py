"""The fleet watch with a moved clock: silent terminals and last wills open one case each."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from alerts.runtime import AlertsComponent
from care_api.domain.model import CaseState
from care_api.services import Services
from care_api.store.heartbeat_book import Beat
from care_api.store.tables import Contact
from care_api.usecases.fleet.lifecycle import retire_device, update_device
from care_api.usecases.fleet.presence import record_presence
from tests.fakes import FakeClock
from tests.fleet.support import Reporter, device_cases, device_row, history, notifications
from tests.helpers import seed_elder


def first_contact(services: Services) -> str:
    with services.uow() as uow:
        contact = uow.session.exec(select(Contact).order_by(col(Contact.priority))).first()
        assert contact is not None
        return f"contact:{contact.id}"


def test_watch_silent_terminal_opens_one_case_after_three_intervals_and_closes_when_back(
    services: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(services)
    term = Reporter(services)
    term.beat(battery=90)
    last_heard = clock.now()

    clock.advance(seconds=899)  # 3 × 300 s not yet over
    assert alerts.fleet.watch().opened == 0
    clock.advance(seconds=2)
    assert alerts.fleet.watch().opened == 1
    clock.advance(minutes=5)
    assert alerts.fleet.watch().opened == 0  # still silent: no second case
    [case] = device_cases(services)
    assert "no sign of life for 15 min 1 s" in history(services, case.id)[0][1]

    alerts.run_pending()  # the device ladder: first contact by SMS, technicians' console
    rows = notifications(services, case.id)
    assert [(n.channel, n.recipient) for n in rows] == [
        ("sms", first_contact(services)),
        ("console", "technician"),
    ]
    assert "may not be working" in rows[0].body and "check on Wang Fang" in rows[0].body

    clock.advance(minutes=12)
    term.beat(battery=90)  # back
    [case] = device_cases(services)
    assert case.state == CaseState.RESOLVED
    outage = clock.now() - last_heard
    assert outage == timedelta(minutes=32, seconds=1)
    assert history(services, case.id)[-1] == (
        "transition",
        "terminal back (heartbeat) after an outage of 32 min 1 s; resolved by itself",
    )
    assert device_row(services).online is True

    alerts.run_pending()
    told = [n for n in notifications(services, case.id) if "works again" in n.body]
    assert {(n.channel, n.recipient) for n in told} == {
        ("sms", first_contact(services)),
        ("console", "technician"),
    }


def test_watch_counts_heartbeats_still_in_the_book_as_seen(
    services: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(services)
    term = Reporter(services)
    term.beat()
    clock.advance(seconds=600)
    term.beat()  # kept in the book: the row still says 600 s ago
    clock.advance(seconds=301)  # the row alone would look silent (901 s)
    report = alerts.fleet.watch()
    assert (report.flushed, report.opened) == (1, 0)
    assert device_cases(services) == []


def test_watch_uses_each_terminals_own_interval(
    services: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(services, "T1")
    seed_elder(services, "T2")
    with services.uow() as uow:
        update_device(uow.session, "T1", by="admin:test", now=clock.now(), heartbeat_s=60)
        uow.commit()
    Reporter(services, "T1").beat()
    Reporter(services, "T2").beat()
    clock.advance(seconds=181)
    assert alerts.fleet.watch().opened == 1
    assert [len(device_cases(services, d)) for d in ("T1", "T2")] == [1, 0]


def test_watch_ignores_terminals_never_heard_from_and_retired_ones(
    services: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(services, "T1")  # provisioned, never switched on
    seed_elder(services, "T2")
    Reporter(services, "T2").beat()
    with services.uow() as uow:
        retire_device(uow, "T2", by="admin:test", now=clock.now())
        uow.commit()
    clock.advance(days=2)
    assert alerts.fleet.watch().opened == 0


def test_watch_last_will_opens_one_case_and_reconnecting_closes_it(
    services: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(services)
    Reporter(services).beat()
    last_heard = clock.now()
    clock.advance(seconds=90)
    record_presence(services.uow, "T1001", False, clock.now())  # the broker's last will
    assert device_cases(services) == []  # the watch decides, at its next run
    assert alerts.fleet.watch().opened == 1
    record_presence(services.uow, "T1001", False, clock.now())  # the retained will, replayed
    assert alerts.fleet.watch().opened == 0
    [case] = device_cases(services)
    assert "connection to the centre dropped" in history(services, case.id)[0][1]

    clock.advance(minutes=5)
    record_presence(services.uow, "T1001", True, clock.now())
    [case] = device_cases(services)
    assert case.state == CaseState.RESOLVED
    span = clock.now() - last_heard
    assert span == timedelta(minutes=6, seconds=30)
    assert (
        "terminal back (connected) after an outage of 6 min 30 s"
        in history(services, case.id)[-1][1]
    )


def test_watch_connection_back_before_it_looks_raises_nothing(
    services: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(services)
    Reporter(services).beat()
    record_presence(services.uow, "T1001", False, clock.now())
    clock.advance(seconds=5)
    record_presence(services.uow, "T1001", True, clock.now())
    assert alerts.fleet.watch().opened == 0
    assert device_cases(services) == []


def test_watch_ends_an_outage_another_path_saw_the_end_of(
    services: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(services)
    Reporter(services).beat()
    clock.advance(minutes=20)
    assert alerts.fleet.watch().opened == 1
    clock.advance(minutes=1)
    # A heartbeat taken and flushed by another gateway process: only the row shows it.
    services.heartbeats.record("T1001", Beat(clock.now(), battery=80))
    clock.advance(seconds=10)
    assert alerts.fleet.watch().ended == 1
    [case] = device_cases(services)
    assert case.state == CaseState.RESOLVED
    assert "(sign of life) after an outage of 21 min" in history(services, case.id)[-1][1]
