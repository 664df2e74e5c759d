"""A stuck button or a nervous elder: presses join the open case, responders hear it once."""

from __future__ import annotations

from sqlmodel import select

from alerts.runtime import AlertsComponent
from care_api.domain.model import CaseKind, ReportType
from care_api.services import Services
from care_api.store.tables import Case
from tests.fakes import FakeClock
from tests.fleet.support import Reporter, history, notifications
from tests.helpers import seed_elder


def test_twenty_presses_in_ten_seconds_make_one_case(
    services: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(services, contacts=2)
    term = Reporter(services)
    outcomes = []
    for _ in range(20):
        outcomes.append(term.send(ReportType.PRESS, button="main", pattern="long"))
        alerts.run_pending()
        clock.advance(seconds=0.5)

    assert len({o.case_id for o in outcomes}) == 1
    with services.uow() as uow:
        cases = uow.session.exec(select(Case).where(Case.kind == CaseKind.EMERGENCY)).all()
    assert len(cases) == 1
    case_id = cases[0].id
    actions = [action for action, _ in history(services, case_id)]
    assert actions.count("opened") == 1 and actions.count("pressed_again") == 19

    again = [n for n in notifications(services, case_id) if "pressed the button again" in n.body]
    # The console and the contact alerted hear of it once, not nineteen times.
    assert sorted((n.channel, n.recipient.split(":")[0]) for n in again) == [
        ("console", "operators"),
        ("sms", "contact"),
    ]


def test_pressing_again_a_minute_later_is_told_again(
    services: Services, alerts: AlertsComponent, clock: FakeClock
) -> None:
    seed_elder(services, contacts=1)
    term = Reporter(services)
    case_id = term.send(ReportType.PRESS, button="main", pattern="long").case_id
    assert case_id is not None
    alerts.run_pending()
    for _ in range(2):
        term.send(ReportType.PRESS, button="main", pattern="long")
        alerts.run_pending()
        clock.advance(seconds=61)
    again = [n for n in notifications(services, case_id) if "pressed the button again" in n.body]
    assert [n.channel for n in again] == ["console", "sms", "console", "sms"]
