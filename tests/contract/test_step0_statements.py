"""Step 0 of new emergencies' ladders on PostgreSQL: one SQL text per statement, any batch.

The batch of ladder steps fired for cases just opened (`AlertsComponent.handle_opened`: the
timers claimed, what the steps read, the rows written, the sender's claim of its own alerts)
runs with 2 and with 6 emergencies and must send the same texts both times: an `IN` list
would render one text per size, for psycopg to parse anew and the statement caches to keep
(`store.arrays`).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from alerts.sender import CLAIMED_AHEAD
from care_api.domain.events import CaseOpened, DomainEvent
from care_api.services import Services
from care_api.usecases.intake.batch import record_presses
from tests.contract.test_batch_statements import sent
from tests.helpers import outbox_alerts, press, seed_elder

TERMINALS = [f"T{n}" for n in range(8)]


class Pool:
    """Stands in for the sending threads: keeps what step 0 claimed and handed over itself."""

    def __init__(self) -> None:
        self.submitted: list[tuple[Any, ...]] = []

    def submit(self, _fn: object, *args: Any) -> None:
        self.submitted.append(args)


def written_to(statement: str) -> str:
    """The statement, or the table an INSERT writes to."""
    return statement.split("(")[0] if statement.startswith("INSERT INTO") else statement


@pytest.mark.parametrize("claims", [True, False], ids=["claims-its-own", "leaves-to-sender"])
def test_step0_of_any_number_of_emergencies_sends_the_same_texts(
    pg: Services, claims: bool
) -> None:
    alerts = outbox_alerts(pg)
    for device_id in TERMINALS:
        seed_elder(pg, device_id, contacts=2)
    opened: list[DomainEvent] = []
    pg.bus.subscribe(CaseOpened, opened.append)
    written: list[int] = []
    alerts.sweeper._dispatch = written.extend  # type: ignore[method-assign]
    pool = Pool()

    def step0(devices: list[str]) -> list[str]:
        opened.clear()
        reports = [press(d, seq=1) for d in devices]  # emergencies
        record_presses(pg.uow, reports, now=pg.clock.now(), tz=pg.tz)
        while not alerts._inbox.empty():  # the events are handled here, by hand
            alerts._inbox.get_nowait()
        if claims:
            alerts.sender._pool = pool  # type: ignore[assignment]
            alerts.sender._in_flight = threading.BoundedSemaphore(CLAIMED_AHEAD)
        assert len(opened) == len(devices)
        with sent(pg) as texts:
            alerts.handle_opened(list(opened))
        return texts

    try:
        two = step0(TERMINALS[:2])
        six = step0(TERMINALS[2:8])
    finally:
        alerts.sender._pool = None
        alerts.stop()
    # The ORM's multi-row INSERTs (the case's history, the alerts, the next step's timer)
    # still render one text per number of rows: the same statements, in the same order.
    assert len(two) == len(six)
    assert [written_to(t) for t in two] == [written_to(t) for t in six]
    # Each emergency's first contact got an SMS and a call; claimed here, or left to the sender.
    assert len(pool.submitted if claims else written) == 2 * len(TERMINALS)
