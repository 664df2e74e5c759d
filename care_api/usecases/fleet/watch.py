"""The fleet watch: terminals gone silent or dropped by the broker open their device case.

`watch_fleet` is run every few seconds (by the alerts scheduler). It first writes the
heartbeats waiting in memory, so that a terminal that did beat is never taken for a
silent one, then looks at the device rows:

- silent: heard from, but nothing for 3 of its own intervals (`heartbeat_s`);
- dropped: the broker published its last will (`offline`) at least `lwt_grace_s` ago;
- back: an outage is open but the row shows a sign of life since (a path that did not end
  it itself, such as a batched press or a heartbeat flushed by another process).

Each terminal is handled in its own short transaction with its row locked, so two
processes watching at once open one case between them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from care_api.domain.fleet import HEARTBEAT_MISSES, describe_duration, is_silent, silent_since
from care_api.domain.texts import Msg
from care_api.store.heartbeat_book import HeartbeatBook
from care_api.store.tables import Device
from care_api.store.uow import UowFactory
from care_api.usecases.fleet.device_cases import end_outage, open_outage

log = logging.getLogger(__name__)

WATCH_BY = "system:fleet-watch"
MAX_PER_RUN = 2_000  # a mass outage is worked through over a few runs


@dataclass(frozen=True, slots=True)
class WatchReport:
    """What one run of the watch did."""

    flushed: int = 0
    opened: int = 0  # outages found (a case opened, or noted in the open one)
    ended: int = 0


def _in_service() -> list[ColumnElement[bool]]:
    return [
        col(Device.status) != "retired",
        col(Device.elder_id).is_not(None),
        col(Device.outage_since).is_(None),
    ]


def find_silent(session: Session, now: datetime, limit: int = MAX_PER_RUN) -> list[str]:
    """Terminals in service, without an open outage, quiet for 3 of their intervals."""
    intervals = session.exec(
        select(Device.heartbeat_s).where(*_in_service()).group_by(col(Device.heartbeat_s))
    ).all()
    found: list[str] = []
    # One range scan of ix_device_watch per interval in use: portable, no date arithmetic in SQL.
    for interval in sorted(intervals):
        found += session.exec(
            select(Device.device_id)
            .where(
                *_in_service(),
                col(Device.heartbeat_s) == interval,
                col(Device.last_seen_at) < silent_since(interval, now),
            )
            .order_by(col(Device.last_seen_at))
            .limit(limit - len(found))
        ).all()
        if len(found) >= limit:
            break
    return found


def find_dropped(
    session: Session, now: datetime, grace_s: float, limit: int = MAX_PER_RUN
) -> list[str]:
    """Terminals the broker said `offline` for at least `grace_s`, without an open outage."""
    cutoff = now - timedelta(seconds=grace_s)
    return list(
        session.exec(
            select(Device.device_id)
            .where(
                *_in_service(),
                col(Device.online).is_(False),
                func.coalesce(col(Device.offline_at), cutoff) <= cutoff,
            )
            .limit(limit)
        ).all()
    )


def find_returned(session: Session, limit: int = MAX_PER_RUN) -> list[str]:
    """Terminals with an open outage whose row shows a sign of life since it began.

    After a last will, only a sign of life later than the will counts: a heartbeat taken
    before it and flushed after says nothing about the terminal now.
    """
    seen = col(Device.last_seen_at)
    return list(
        session.exec(
            select(Device.device_id)
            .where(
                col(Device.outage_since).is_not(None),
                seen > col(Device.outage_since),
                col(Device.offline_at).is_(None) | (seen > col(Device.offline_at)),
            )
            .limit(limit)
        ).all()
    )


def watch_fleet(
    uow_factory: UowFactory,
    now: datetime,
    tz: tzinfo,
    *,
    book: HeartbeatBook | None = None,
    lwt_grace_s: float = 0.0,
) -> WatchReport:
    """One run of the watch (see the module's docstring); commits per terminal."""
    flushed = _flush(book, uow_factory)
    with uow_factory() as uow:
        down = dict.fromkeys(find_silent(uow.session, now))
        down.update(dict.fromkeys(find_dropped(uow.session, now, lwt_grace_s)))
        returned = find_returned(uow.session)
    opened = sum(_check_down(uow_factory, d, now, tz, book, lwt_grace_s) for d in down)
    ended = sum(_check_back(uow_factory, d, now) for d in returned)
    if opened or ended:
        log.info("fleet watch: %d terminals down, %d back", opened, ended)
    return WatchReport(flushed=flushed, opened=opened, ended=ended)


def _flush(book: HeartbeatBook | None, uow_factory: UowFactory) -> int:
    if book is None:
        return 0
    try:
        return book.flush(uow_factory)
    except Exception as exc:
        # Not fatal: the per-terminal check still consults the book's latest beat.
        log.warning("fleet watch could not flush heartbeats first: %s", exc)
        return 0


def _check_down(
    uow_factory: UowFactory,
    device_id: str,
    now: datetime,
    tz: tzinfo,
    book: HeartbeatBook | None,
    grace_s: float,
) -> bool:
    with uow_factory() as uow:
        device = uow.session.get(Device, device_id, with_for_update=True)
        if device is None or device.outage_since is not None or device.status == "retired":
            return False  # another process or a heartbeat got here first
        beat = book.latest(device_id) if book is not None else None
        last_heard = max(
            (t for t in (device.last_seen_at, beat.seen_at if beat else None) if t), default=None
        )
        if is_silent(last_heard, device.heartbeat_s, now):
            quiet = describe_duration(now - last_heard) if last_heard else Msg("ever")
            trigger: str = Msg(
                "terminal offline: no sign of life for {quiet} "
                "({misses} heartbeat intervals of {every} s)",
                quiet=quiet,
                misses=HEARTBEAT_MISSES,
                every=device.heartbeat_s,
            )
        elif device.online is False and _dropped_long_enough(device, now, grace_s):
            trigger = Msg("terminal offline: its connection to the centre dropped")
        else:
            return False
        open_outage(
            uow,
            device,
            last_heard=last_heard or device.offline_at or now,
            trigger=trigger,
            by=WATCH_BY,
            now=now,
            tz=tz,
        )
        uow.commit()
    return True


def _dropped_long_enough(device: Device, now: datetime, grace_s: float) -> bool:
    return device.offline_at is None or device.offline_at <= now - timedelta(seconds=grace_s)


def _check_back(uow_factory: UowFactory, device_id: str, now: datetime) -> bool:
    with uow_factory() as uow:
        device = uow.session.get(Device, device_id, with_for_update=True)
        if device is None or device.outage_since is None or device.last_seen_at is None:
            return False
        seen = device.last_seen_at
        if seen <= device.outage_since or (device.offline_at and seen <= device.offline_at):
            return False
        end_outage(
            uow, device, via="sign of life", by=WATCH_BY, now=now, back_at=device.last_seen_at
        )
        uow.commit()
    return True
