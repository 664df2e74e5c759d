"""The gateway's batches on PostgreSQL: one SQL text per statement whatever the batch's size.

An `IN` list renders one text per number of values: psycopg parsed each anew, and the
statement caches kept every text with its bound parameters for each full garbage collection
to walk (`store.arrays`). Each batch here runs twice, with 2 and with 6 reports of the same
kind, and must send the same texts both times. A press batch that joins running cases also
sends only its two statements (what the planner reads, the writes), outside any
`BEGIN`/`COMMIT`: the write commits by itself, before the batch returns. Case news only
reads, outside a transaction too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, event

from care_api.domain.events import CasePressedAgain
from care_api.domain.model import CaseState, DeviceReport, EventKey, IntakeStatus, ReportType
from care_api.services import Services
from care_api.usecases.intake.batch import record_presses
from care_api.usecases.intake.heartbeats import record_heartbeats
from care_api.usecases.intake.technical import record_held_reports
from device_gateway.downlink import CaseNewsSender
from tests.contract.test_storm_intake_paths import DARK, power
from tests.contract.test_storm_intake_paths import seed as seed_storm
from tests.fakes import FakeClock
from tests.helpers import press, seed_elder
from tests.integration.test_case_news_batch import RecordingRoute

TERMINALS = [f"T{n}" for n in range(8)]


@contextmanager
def sent(services: Services, *, each_commits: list[bool] | None = None) -> Iterator[list[str]]:
    """The SQL texts sent meanwhile, in order; in `each_commits`, whether each commits alone."""
    texts: list[str] = []

    def note(conn: Connection, _cursor: object, statement: str, *_: object) -> None:
        texts.append(statement)
        if each_commits is not None:
            each_commits.append(conn.connection.driver_connection.autocommit)  # type: ignore[union-attr]

    event.listen(services.engine, "before_cursor_execute", note)
    try:
        yield texts
    finally:
        event.remove(services.engine, "before_cursor_execute", note)


def texts_of(services: Services, run: Callable[[], object]) -> list[str]:
    with sent(services) as texts:
        run()
    return texts


def test_press_batches_of_any_size_send_the_same_two_statements(pg: Services) -> None:
    for device_id in TERMINALS:
        seed_elder(pg, device_id, contacts=1)
    now, tz = pg.clock.now(), pg.tz

    def presses(seq: int, count: int) -> Callable[[], object]:
        reports = [press(d, seq=seq, pattern="single") for d in TERMINALS[:count]]
        return lambda: record_presses(pg.uow, reports, now=now, tz=tz)

    opened = record_presses(
        pg.uow, [press(d, seq=1, pattern="single") for d in TERMINALS], now=now, tz=tz
    )
    assert {o.status for o in opened} == {IntakeStatus.ACCEPTED}
    each_commits: list[bool] = []
    with sent(pg, each_commits=each_commits) as two:
        presses(2, 2)()
    assert two == texts_of(pg, presses(3, 6))
    assert len(two) == 2 and each_commits == [True, True]  # no BEGIN, no COMMIT
    # Committed when the batch returned: another connection sees every press.
    with pg.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM device_event").scalar() == 16


def test_heartbeat_runs_of_any_size_send_the_same_texts(pg: Services, clock: FakeClock) -> None:
    for device_id in TERMINALS:
        seed_elder(pg, device_id, contacts=1)

    def beats(seq: int, count: int) -> Callable[[], object]:
        reports = [
            DeviceReport(EventKey(d, 7, seq), ReportType.HEARTBEAT, {"battery": 90})
            for d in TERMINALS[:count]
        ]
        return lambda: record_heartbeats(pg.uow, reports, pg.heartbeats, now=clock.now(), tz=pg.tz)

    beats(1, 8)()  # online now: the runs below are routine
    assert texts_of(pg, beats(2, 2)) == texts_of(pg, beats(3, 6))


def test_storm_batches_of_any_size_send_the_same_texts(pg: Services, clock: FakeClock) -> None:
    seed_storm(pg, clock)  # 25 of DARK without power: the incident is open

    def run(reports: list[DeviceReport]) -> Callable[[], object]:
        return lambda: record_held_reports(pg.uow, reports, now=clock.now())

    lost = [power(d, 1) for d in DARK[25:33]]
    assert texts_of(pg, run(lost[:2])) == texts_of(pg, run(lost[2:8]))
    back = [power(d, 2, "restored") for d in DARK[2:10]]
    assert texts_of(pg, run(back[:2])) == texts_of(pg, run(back[2:8]))


def test_case_news_of_any_number_of_cases_send_the_same_texts(pg: Services) -> None:
    for device_id in TERMINALS:
        seed_elder(pg, device_id, contacts=1)
    now, tz = pg.clock.now(), pg.tz
    outcomes = record_presses(
        pg.uow, [press(d, seq=1, pattern="single") for d in TERMINALS], now=now, tz=tz
    )
    news = [
        CasePressedAgain(str(o.case_id), d, CaseState.OPEN)
        for d, o in zip(TERMINALS, outcomes, strict=True)
    ]
    route = RecordingRoute()
    sender = CaseNewsSender(pg, route)  # type: ignore[arg-type]
    each_commits: list[bool] = []
    with sent(pg, each_commits=each_commits) as two:
        sender._send_all(news[:2])
    with sent(pg) as six:
        sender._send_all(news[2:8])
    assert set(two) == set(six)
    assert each_commits and all(each_commits)  # reads only: no BEGIN, no ROLLBACK
    assert [device for device, _ in route.sent] == TERMINALS
