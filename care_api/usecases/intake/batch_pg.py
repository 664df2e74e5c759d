"""The press batch's statements on PostgreSQL: one text each, whatever the batch's size.

The portable statements (an `IN` list, a multi-row `VALUES`) render one SQL text per batch
size: psycopg parses each anew (its cache takes short texts only), and the caches of both
libraries fill with hundreds of texts and bound parameters that every full garbage
collection walks (15,000 `BindParameter`s at 1,000 presses/s, 60-220 ms a collection).
Here the keys and ids travel as arrays (`unnest`, `= ANY`), the rows to write as one JSON
document each (`json_array_elements`), and what can go together goes in one statement:
the events with their terminals, the history with its cases. The `(device_id, boot, seq)`
unique key is checked as before: a key committed meanwhile fails the statement with an
`IntegrityError`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from care_api.domain.model import EventKey
from care_api.store.uow import outside_transaction

# The events of the keys given as arrays :d, :b, :s (their unique key's index finds each).
_KEYS_RECORDED = (
    "FROM unnest(CAST(:d AS text[]), CAST(:b AS integer[]), CAST(:s AS integer[])) "
    "AS k (device_id, boot, seq) "
    "JOIN device_event AS e ON e.device_id = k.device_id AND e.boot = k.boot AND e.seq = k.seq"
)
_RECORDED = text(f"SELECT e.device_id, e.boot, e.seq, e.case_id {_KEYS_RECORDED}")

# The rows to write go as one JSON document each (an array of arrays, in order), not as an
# array per column: psycopg writes a text array in Python, quoting and escaping element by
# element (the JSON of `fields` and `why_msg`, timestamps, texts with spaces), about 1.1 ms of
# CPU for a batch of 20 presses; `json.dumps` writes the same rows in 0.1 ms.
#
# The terminals' rows, and the cases', are locked in one order (by id), as every writer
# of the batch path does, so that two gateways touching the same ones wait for each other,
# never deadlock.
_EVENTS = (
    "ev AS (INSERT INTO device_event "
    "(device_id, boot, seq, type, fields, source, case_id, received_at) "
    "SELECT r.e->>0, CAST(r.e->>1 AS integer), CAST(r.e->>2 AS integer), r.e->>3, r.e->4, "
    "r.e->>5, r.e->>6, :now "
    "FROM json_array_elements(CAST(:events AS json)) WITH ORDINALITY AS r (e, n) "
    "ORDER BY r.n RETURNING id, device_id, boot, seq)"
)
_DEVICES = (
    "dev AS (UPDATE device SET last_seen_at = :now, online = true WHERE device_id IN ("
    "SELECT device_id FROM device WHERE device_id = ANY(CAST(:devices AS text[])) "
    "ORDER BY device_id FOR NO KEY UPDATE))"
)
_HISTORY = (
    "h AS (INSERT INTO case_event (case_id, at, by, action, from_state, to_state, why, why_msg) "
    "SELECT r.h->>0, CAST(r.h->>1 AS timestamptz), r.h->>2, r.h->>3, r.h->>4, r.h->>5, "
    "r.h->>6, CASE WHEN json_typeof(r.h->7) <> 'null' THEN r.h->7 END "  # JSON null: SQL NULL
    "FROM json_array_elements(CAST(:history AS json)) WITH ORDINALITY AS r (h, n) ORDER BY r.n)"
)
_CASES = (
    "cs AS (UPDATE care_case SET updated_at = :now WHERE id IN ("
    "SELECT id FROM care_case WHERE id = ANY(CAST(:joined AS text[])) "
    "ORDER BY id FOR NO KEY UPDATE))"
)
_RETURNED = " SELECT id, device_id, boot, seq FROM ev"
_EVENTS_AND_DEVICES = text(f"WITH {_EVENTS}, {_DEVICES}{_RETURNED}")
_HISTORY_AND_CASES = text(f"WITH {_HISTORY}, {_CASES} SELECT 1")
# A batch that opens no case (presses joining the cases already running, the usual run of
# a busy minute) writes everything at once. Foreign keys are checked at the statement's
# end, when every part is written.
_EVERYTHING = text(f"WITH {_EVENTS}, {_DEVICES}, {_HISTORY}, {_CASES}{_RETURNED}")


def connection(session: Session) -> Connection:
    """The batch's connection: on PostgreSQL one whose statements each commit by themselves.

    A batch that opens no case reads twice and writes once, in one statement (`insert_all`):
    in a transaction of its own it would also wait for a `BEGIN` and a `COMMIT`, two of its
    five round trips. The write, all or nothing, is committed when it returns, so the ack
    still follows the commit. A batch that opens cases writes several statements: it calls
    `begin` first, and the unit of work's commit ends that transaction
    (`uow.outside_transaction`).
    """
    return outside_transaction(session)


def begin(conn: Connection) -> None:
    """Open a transaction on a `connection` of PostgreSQL; the unit of work commits it."""
    conn.exec_driver_sql("BEGIN")


def recorded_keys(conn: Connection, keys: Iterable[EventKey]) -> dict[EventKey, str | None]:
    """Keys of `keys` already recorded, with their case."""
    d, b, s = _columns(keys)
    rows = conn.execute(_RECORDED, {"d": d, "b": b, "s": s}).all()
    return {EventKey(row[0], row[1], row[2]): row[3] for row in rows}


def insert_events(
    conn: Connection, rows: Sequence[Mapping[str, Any]], devices: Sequence[str], now: datetime
) -> dict[EventKey, int]:
    """Insert the event `rows` (all received `now`) and mark `devices` seen; their ids by key."""
    found = conn.execute(_EVENTS_AND_DEVICES, _event_params(rows, devices, now)).all()
    return {EventKey(row[1], row[2], row[3]): row[0] for row in found}


def insert_history(
    conn: Connection, rows: Sequence[Mapping[str, Any]], joined: Sequence[str], now: datetime
) -> None:
    """Insert the history `rows`, and mark the cases `joined` updated `now`."""
    conn.execute(_HISTORY_AND_CASES, _history_params(rows, joined, now))


def insert_all(
    conn: Connection,
    events: Sequence[Mapping[str, Any]],
    devices: Sequence[str],
    history: Sequence[Mapping[str, Any]],
    joined: Sequence[str],
    now: datetime,
) -> None:
    """`insert_events` and `insert_history` in one statement, for a batch opening no case."""
    params = _event_params(events, devices, now) | _history_params(history, joined, now)
    conn.execute(_EVERYTHING, params)


def _event_params(
    rows: Sequence[Mapping[str, Any]], devices: Sequence[str], now: datetime
) -> dict[str, Any]:
    events = [
        [
            r["device_id"],
            r["boot"],
            r["seq"],
            r["type"],
            r["fields"],
            r["source"],
            r["case_id"],
        ]
        for r in rows
    ]
    return {"events": json.dumps(events), "now": now, "devices": list(devices)}


def _history_params(
    rows: Sequence[Mapping[str, Any]], joined: Sequence[str], now: datetime
) -> dict[str, Any]:
    history = [
        [
            r["case_id"],
            r["at"].isoformat(),
            r["by"],
            r["action"],
            _text_or_none(r["from_state"]),
            _text_or_none(r["to_state"]),
            str(r["why"]),
            r["why_msg"],
        ]
        for r in rows
    ]
    return {"history": json.dumps(history), "now": now, "joined": list(joined)}


def _columns(keys: Iterable[EventKey]) -> tuple[list[str], list[int], list[int]]:
    d: list[str] = []
    b: list[int] = []
    s: list[int] = []
    for key in keys:
        d.append(key.device_id)
        b.append(key.boot)
        s.append(key.seq)
    return d, b, s


def _text_or_none(value: object) -> str | None:
    # A state is a StrEnum: its text is what the column holds.
    return None if value is None else str(value)
