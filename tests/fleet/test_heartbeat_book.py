"""Heartbeats kept in memory and flushed in batches: acks, no row per beat, what reaches the row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from care_api.domain.model import DeviceReport, EventKey, IntakeStatus, ReportType
from care_api.services import Services
from care_api.store.heartbeat_book import Beat, HeartbeatBook, HeartbeatFlusher
from care_api.store.tables import DeviceEvent
from care_api.usecases.fleet.lifecycle import retire_device
from care_api.usecases.intake.heartbeats import record_heartbeats
from tests.fakes import FakeClock
from tests.fleet.support import Reporter, device_row, record, wait_until
from tests.helpers import seed_elder


def event_rows(services: Services) -> list[DeviceEvent]:
    with services.uow() as uow:
        return list(uow.session.exec(select(DeviceEvent)).all())


def test_heartbeat_book_keeps_only_the_latest_beat_per_terminal(clock: FakeClock) -> None:
    book = HeartbeatBook()
    early, late = clock.now(), clock.now() + timedelta(seconds=300)
    book.record("T1", Beat(late, battery=80))
    book.record("T1", Beat(early, battery=90))  # arrived late over a slow path: older
    book.record("T2", Beat(early, battery=50))
    assert len(book) == 2
    assert book.latest("T1") == Beat(late, battery=80)


def test_heartbeat_is_acked_without_a_row_and_reaches_the_device_on_flush(
    services: Services, clock: FakeClock
) -> None:
    seed_elder(services)
    term = Reporter(services)
    first = term.beat(battery=90)  # first beat: the terminal comes online, written at once
    assert (first.status, first.case_id) == (IntakeStatus.ACCEPTED, None)
    seen_first = device_row(services).last_seen_at

    clock.advance(seconds=300)
    out = term.beat(battery=88, rssi=-71, fw="1.4.2")
    assert (out.status, out.case_id) == (IntakeStatus.ACCEPTED, None)
    assert event_rows(services) == []  # no device_event row for any heartbeat
    assert device_row(services).last_seen_at == seen_first  # waiting in the book

    assert services.heartbeats.flush(services.uow) == 1
    row = device_row(services)
    assert (row.last_seen_at, row.battery, row.rssi, row.fw) == (clock.now(), 88, -71, "1.4.2")
    assert len(services.heartbeats) == 0


def test_heartbeat_resent_is_accepted_again_harmlessly(services: Services) -> None:
    seed_elder(services)
    beat = DeviceReport(EventKey("T1001", 7, 1), ReportType.HEARTBEAT, {"battery": 90})
    first, again = record(services, beat), record(services, beat)
    assert first.status is again.status is IntakeStatus.ACCEPTED  # the book keeps no keys
    assert event_rows(services) == []


def test_heartbeat_from_unknown_or_retired_terminal_is_rejected(services: Services) -> None:
    seed_elder(services)
    assert Reporter(services, "T9999").beat().reason == "unknown device"
    with services.uow() as uow:
        retire_device(uow, "T1001", by="admin:test", now=services.clock.now())
        uow.commit()
    assert Reporter(services).beat().reason == "device retired"
    assert len(services.heartbeats) == 0


def test_heartbeat_flush_never_moves_last_seen_back(services: Services, clock: FakeClock) -> None:
    seed_elder(services)
    term = Reporter(services)
    term.beat()
    clock.advance(seconds=10)
    term.beat(battery=70)  # buffered, seen at t+10
    clock.advance(seconds=5)
    term.send(ReportType.PRESS, button="main", pattern="single")  # written now, seen at t+15
    services.heartbeats.flush(services.uow)
    row = device_row(services)
    assert row.last_seen_at == clock.now()  # the press, not the older beat
    assert row.battery == 70


def test_heartbeat_flush_that_fails_keeps_the_beats_for_the_next_try(
    services: Services, clock: FakeClock
) -> None:
    seed_elder(services)
    book = HeartbeatBook()
    book.record("T1001", Beat(clock.now(), battery=42))

    def broken() -> None:
        raise OperationalError("UPDATE", {}, Exception("database is locked"))

    with pytest.raises(OperationalError):
        book.flush(broken)  # type: ignore[arg-type]
    assert book.latest("T1001") == Beat(clock.now(), battery=42)
    assert book.flush(services.uow) == 1
    assert device_row(services).battery == 42


def test_heartbeat_flusher_writes_what_is_left_when_it_stops(
    services: Services, clock: FakeClock
) -> None:
    seed_elder(services)
    book = HeartbeatBook()
    flusher = HeartbeatFlusher(book, services.uow, interval_s=3600)  # never on its own here
    flusher.start()
    book.record("T1001", Beat(clock.now(), battery=33))
    flusher.stop()
    assert device_row(services).battery == 33


def test_heartbeat_flusher_flushes_early_when_the_book_fills(
    services: Services, clock: FakeClock
) -> None:
    seed_elder(services, "T1")
    seed_elder(services, "T2")
    book = HeartbeatBook(max_entries=2)
    flusher = HeartbeatFlusher(book, services.uow, interval_s=3600)
    flusher.start()
    try:
        book.record("T1", Beat(clock.now(), battery=11))
        book.record("T2", Beat(clock.now(), battery=22))  # full: the flusher wakes up
        assert wait_until(lambda: book.written == 2)
    finally:
        flusher.stop()
    assert (device_row(services, "T1").battery, device_row(services, "T2").battery) == (11, 22)


def test_heartbeats_in_runs_answer_like_one_by_one(services: Services, clock: FakeClock) -> None:
    seed_elder(services, "T1")
    seed_elder(services, "T2")
    seed_elder(services, "T3")
    for device_id in ("T1", "T2"):
        Reporter(services, device_id).beat(battery=90)  # online: their next beats are routine
    with services.uow() as uow:
        retire_device(uow, "T3", by="admin:test", now=clock.now())
        uow.commit()
    clock.advance(seconds=300)
    beats = [
        DeviceReport(EventKey(d, 7, 9), ReportType.HEARTBEAT, {"battery": level})
        for d, level in (("T1", 80), ("T2", 10), ("T3", 50), ("T9", 50))
    ]
    outcomes = record_heartbeats(
        services.uow, beats, services.heartbeats, now=clock.now(), tz=services.tz
    )
    assert [(o.status, o.reason) for o in outcomes] == [
        (IntakeStatus.ACCEPTED, None),
        (IntakeStatus.ACCEPTED, None),  # a battery crossing: written at once
        (IntakeStatus.REJECTED, "device retired"),
        (IntakeStatus.REJECTED, "unknown device"),
    ]
    assert device_row(services, "T2").battery_low is True
    assert device_row(services, "T1").battery == 90  # routine: still in the book
    services.heartbeats.flush(services.uow)
    assert device_row(services, "T1").battery == 80
