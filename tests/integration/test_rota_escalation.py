"""The ladder's supervisor step pages the supervisor on duty when it fires (moved clock)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlmodel import col, select

from alerts.answers import Answers
from alerts.runtime import AlertsComponent
from care_api.services import Services, build_services
from care_api.store.tables import Case, Notification
from care_api.usecases.intake.reports import record_device_report
from care_api.usecases.schedules.rotas import add_shift
from tests.conftest import make_settings
from tests.fakes import FakeClock
from tests.helpers import press, seed_elder

SETTING_PHONE = "+8613700000000"
DAY_PHONE = "+8613711111111"
NIGHT_PHONE = "+8613722222222"
TO_SUPERVISOR_S = 120 + 300  # the default emergency ladder reaches the supervisor here


@pytest.fixture
def svc(db_url: str, clock: FakeClock) -> Iterator[Services]:
    services = build_services(make_settings(db_url, supervisor_phone=SETTING_PHONE), clock=clock)
    yield services
    services.close()


def shift(svc: Services, person: str, phone: str, start: datetime, hours: float) -> None:
    with svc.uow() as uow:
        data = {"person": person, "role": "supervisor", "phone": phone, "start": start}
        add_shift(uow.session, {**data, "end": start + timedelta(hours=hours)}, by="t", now=start)
        uow.commit()


def open_emergency(svc: Services, seq: int) -> str:
    outcome = record_device_report(svc.uow, press(seq=seq), now=svc.clock.now(), tz=svc.tz)
    assert outcome.case_id is not None
    return outcome.case_id


def climb_to_supervisor(alerts: AlertsComponent, clock: FakeClock) -> None:
    alerts.run_pending()
    for wait in (120, 300):
        clock.advance(seconds=wait)
        alerts.tick()
        alerts.run_pending()


def supervisor_pages(svc: Services, case_id: str) -> list[tuple[str, str]]:
    with svc.uow() as uow:
        rows = uow.session.exec(
            select(Notification)
            .where(Notification.case_id == case_id, Notification.recipient == "supervisor")
            .order_by(col(Notification.id))
        ).all()
        return [(n.channel, n.to) for n in rows]


def test_supervisor_step_pages_whoever_is_on_duty_when_it_fires(
    svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(svc, contacts=2)  # step 1 reaches the second contact, so it waits its 5 min
    now = clock.now()
    # The day supervisor hands over 5 minutes after the press; the step fires 7 minutes in.
    shift(svc, "Day Li", DAY_PHONE, now - timedelta(hours=8), hours=8 + 5 / 60)
    shift(svc, "Night Wu", NIGHT_PHONE, now + timedelta(minutes=5), hours=12)
    case_id = open_emergency(svc, seq=1)

    climb_to_supervisor(alerts, clock)

    assert supervisor_pages(svc, case_id) == [("sms", NIGHT_PHONE), ("voice", NIGHT_PHONE)]


def test_supervisor_during_the_day_shift_is_the_day_supervisor(
    svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(svc, contacts=2)
    shift(svc, "Day Li", DAY_PHONE, clock.now() - timedelta(hours=1), hours=8)
    case_id = open_emergency(svc, seq=1)

    climb_to_supervisor(alerts, clock)

    assert supervisor_pages(svc, case_id) == [("sms", DAY_PHONE), ("voice", DAY_PHONE)]


def test_nobody_on_the_rota_falls_back_to_the_setting(
    svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(svc, contacts=2)
    shift(svc, "Day Li", DAY_PHONE, clock.now() - timedelta(hours=9), hours=8)  # ended
    case_id = open_emergency(svc, seq=1)

    climb_to_supervisor(alerts, clock)

    assert supervisor_pages(svc, case_id) == [("sms", SETTING_PHONE), ("voice", SETTING_PHONE)]


def test_rota_supervisor_answering_by_sms_takes_the_case(
    svc: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(svc, contacts=2)
    shift(svc, "Day Li", DAY_PHONE, clock.now() - timedelta(hours=1), hours=8)
    case_id = open_emergency(svc, seq=1)
    climb_to_supervisor(alerts, clock)

    reply = Answers(svc).sms(DAY_PHONE, "1")

    assert case_id in reply
    with svc.uow() as uow:
        case = uow.session.get(Case, case_id)
        assert case is not None and case.owner == "supervisor"
