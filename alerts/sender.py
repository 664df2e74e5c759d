"""Notifications: written as rows inside the caller's transaction, sent after it by one thread.

A row is claimed (status "sending", attempts + 1, a lease in `next_attempt_at`) before it is
handed to the notifier, and a row with a provider id is never claimed again, so one row makes
at most one message unless a sender dies mid-send (then the lease runs out and it is retried:
for an alert a duplicate beats a loss). Failures are retried with backoff by `enqueue_due`,
which the timer sweep calls every second. A claimed row goes out only if the send bounds
(`alerts.throttle`) and, through Twilio, the SMS pace of the sender number allow it now;
otherwise it waits, is held to be folded, or is suppressed, as its status says.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Table, and_, bindparam, insert, or_, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.dml import ReturningUpdate, Update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, SQLModel, col, select

from alerts.bounds import Outgoing, SendLimits, Verdict, pace
from alerts.ports import Channel, DeliveryReceipt, Notifier, NotifyError, OutboundMessage
from alerts.sms_segments import sms_segments
from alerts.throttle import HELD, SendBounds, Tally, limits_from_settings
from care_api.domain.cases import is_unowned
from care_api.domain.channels import CHANNELS, PERSON_CHANNELS
from care_api.domain.model import CaseKind
from care_api.domain.texts import Msg, msg_json, term
from care_api.log_privacy import mask_phone, mask_phones_in
from care_api.services import Services
from care_api.store.arrays import Pair, is_postgres, one_of
from care_api.store.tables import Case, Notification
from care_api.store.uow import SqlUnitOfWork
from care_api.store.whole_rows import whole_row
from care_api.usecases.cases.log import rows_wait
from care_api.usecases.people.addresses import phone_of
from care_api.usecases.schedules.checkins import has_checked_in_late
from care_api.usecases.schedules.drills import mark_test, takes_part_in_drills

log = logging.getLogger(__name__)

# Twilio keeps retrying on its side for hours; ours covers outages and rate limits.
RETRY_BACKOFF_S = (10, 30, 120, 600)
MAX_ATTEMPTS = len(RETRY_BACKOFF_S) + 1
SEND_LEASE_S = 120  # a claimed row not recorded by then belonged to a sender that died
ORPHAN_GRACE_S = 30  # a pending row never handed to a sender (crash after commit) is swept then
DUE_BATCH = 500
ALERT_KEY_PREFIX = "ladder:"
ELDER_CALL_KEY_PREFIX = "elder-call:"  # the call that starts a missed check-in's case
LOOP_KEY_PREFIX = "loop:"  # the closed loop's chase of an owner not on site
# Recorded, never sent: a drill's message to someone who did not opt in, an alert retried
# after the case was taken, a call to an elder who has checked in since.
SKIPPED = "skipped"
DRILL_SKIP_PREFIX = "skipped:"
DRILL_SKIP_DETAIL = "drill: not opted in to drills"
TAKEN_SKIP_DETAIL = "the case was taken before this alert went out"
CHECKED_IN_LATE_DETAIL = "cancelled: checked in late"
MAX_BODY_CHARS = 1600
MAX_DETAIL_CHARS = 500
STOP_JOIN_S = 15.0
# Requests to the provider in flight at once. One thread claims rows in order (the send
# bounds and the SMS pace decide there, one row at a time, as before); the request and its
# record go to these. One at a time, a provider answering in 200 ms caps the sender at five
# messages a second, and 100 emergencies a second ask for 200.
SEND_THREADS = 8
# Rows claimed and not yet sent, at most: those sending and those waiting for a thread. Up
# to 32 waiting (about 0.8 s of requests at 200 ms each) stay far inside the lease, and a
# new case's alerts are claimed several to a transaction instead of one each.
CLAIMED_AHEAD = 4 * SEND_THREADS


# Rows whose retry time (or lost sender's lease, or grace) has come, oldest first.
_DUE = (
    select(Notification.id)
    .where(
        col(Notification.provider_id).is_(None),
        col(Notification.channel).in_(PERSON_CHANNELS),
        col(Notification.status).in_(("pending", "failed", "sending", HELD)),
        col(Notification.next_attempt_at) <= bindparam("now"),
    )
    .order_by(col(Notification.next_attempt_at))
    .limit(DUE_BATCH)
)


class OutboxWriter:
    """Writes notification rows in the caller's transaction and remembers which to send."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self._now = now
        # In a session whose rows wait for its commit (`rows_at_commit`), the rows reach the
        # database with its next flush (a read, or the commit), all of a batch's in one
        # statement; their ids are known from then.
        # Rows added as objects (deferred, or asked for), or the ids of rows written at once.
        self._to_send: list[Notification | int] = []
        self._absent: set[str] = set()  # keys `expect` found unused, each until its add

    @property
    def to_send(self) -> list[int]:
        """The ids of the phone messages added, in order, for the sender after the commit."""
        rows = [row for row in self._to_send if isinstance(row, Notification)]
        if any(row.id is None and row in self.session for row in rows):
            # Asked inside the transaction before its rows were flushed (a handler's hook);
            # rows a rollback dropped are in no session, and have no id to send.
            self.session.flush()
        ids = (row if isinstance(row, int) else row.id for row in self._to_send)
        return [i for i in ids if i is not None]

    def add(
        self,
        *,
        case_id: str | None,
        channel: str,
        to: str,
        recipient: str,
        body: str,
        say: str | None = None,
        key: str | None = None,
        language: str | None = None,
    ) -> int | None:
        """Add one message; its id, or None when a row with the same idempotency `key` exists.

        `language` is that of `body` and `say` (a voice call speaks it); None: the centre's.

        Console rows are delivered by being written; rows on a person's channel (SMS, voice,
        WeChat) wait for the sender. A channel nobody declared is a bug: ValueError. In a
        session whose rows wait for its commit there is no id before it: 0 then.
        """
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}: declare it in care_api.domain.channels")
        if rows_wait(self.session) or (case_id is not None and self._is_drill(case_id)):
            # A batch's rows wait for its commit as objects; a drill's rules are the object
            # path's (`add_row`), as rare as drills are.
            if key is not None and self._exists(key):
                return None
            row = self.add_row(
                case_id=case_id,
                channel=channel,
                to=to,
                recipient=recipient,
                body=body,
                say=say,
                key=key,
                language=language,
                known_new=True,
            )
            return None if row is None else row.id or 0
        session = self.session
        # Unless `expect` found the key unused, a row with it already is left as it is (one
        # statement, not a read of the key and then the row).
        once = key is not None and not self._absent_now(key)
        # A row still pending keeps its place (its id) before this one; and the rows it may
        # refer to are written first, as the read of the key used to make the session do.
        if (once and session.autoflush) or any(
            isinstance(pending, Notification) for pending in session.new
        ):
            session.flush()
        values = self._values(case_id, channel, to, recipient, body, say, key, language)
        if once:
            primary = (
                session.connection()
                .execute(_NEW_ROW_ONCE.on(session), {**_UNSENT, **values})
                .first()
            )
            if primary is None:
                return None
        else:
            primary = (
                session.connection().execute(_NEW_ROW, {**_UNSENT, **values}).inserted_primary_key
            )
        if primary is None or primary[0] is None:  # pragma: no cover - both databases give it
            raise RuntimeError("a notification row without an id")
        row_id = int(primary[0])
        if channel in PERSON_CHANNELS:
            self._to_send.append(row_id)
        return row_id

    def _values(
        self,
        case_id: str | None,
        channel: str,
        to: str,
        recipient: str,
        body: str,
        say: str | None,
        key: str | None,
        language: str | None,
    ) -> dict[str, Any]:
        """A new row's columns, as `add` writes them and `add_row` builds its object."""
        phone = channel in PERSON_CHANNELS
        text = body[:MAX_BODY_CHARS]
        return {
            "case_id": case_id,
            "channel": channel,
            "to": to,
            "recipient": recipient,
            "body": text,
            "say": say[:MAX_BODY_CHARS] if say is not None else None,
            "segments": sms_segments(text) if channel == Channel.sms else None,
            "language": language,
            # A console row is rendered per reader by the API (a drill's is marked, as written).
            "body_msg": None if phone else msg_json(body),
            "status": "pending" if phone else "delivered",
            "idempotency_key": key,
            "next_attempt_at": self._now + timedelta(seconds=ORPHAN_GRACE_S) if phone else None,
            "created_at": self._now,
            "updated_at": self._now,
        }

    def add_row(
        self,
        *,
        case_id: str | None,
        channel: str,
        to: str,
        recipient: str,
        body: str,
        say: str | None = None,
        key: str | None = None,
        language: str | None = None,
        known_new: bool = False,
    ) -> Notification | None:
        """`add` as an object of this session, for a caller that changes it further.

        `known_new`: `add` looked up the key already.
        """
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}: declare it in care_api.domain.channels")
        if key is not None and not known_new and self._exists(key):
            return None
        phone = channel in PERSON_CHANNELS
        if case_id is not None and self._is_drill(case_id):
            # A drill runs the whole ladder, but nobody may take it for a real alarm, and
            # only people who opted in to drills are disturbed; the rest are recorded.
            body = mark_test(body)
            say = mark_test(say, spoken=True) if say is not None else None
            if phone and not takes_part_in_drills(self.session, recipient):
                return self._skip(case_id, channel, to, recipient, body, key)
        values = self._values(case_id, channel, to, recipient, body, say, key, language)
        row = whole_row(Notification, {**_UNSENT, **values})
        self.session.add(row)
        if not rows_wait(self.session):
            self.session.flush()
        if phone:
            self._to_send.append(row)
        return row

    def expect(self, keys: Iterable[str], *, used: Collection[str] | None = None) -> None:
        """Look up at once the keys the next `add`s will bring (one query, not one each).

        `used`: every one of these keys already in the database, read by the caller (a
        batch's keys at once): no query then.
        """
        wanted = set(keys) - self._absent
        if not wanted:
            return
        if used is None:
            found = self.session.exec(_KEYS_IN, params={"keys": list(wanted)}).all()
            used = {k for k in found if k is not None}
        self._absent |= wanted - set(used)

    def _is_drill(self, case_id: str) -> bool:
        case = self.session.get(Case, case_id)  # the caller's case, from the identity map
        return case is not None and case.drill

    def _skip(
        self, case_id: str, channel: str, to: str, recipient: str, body: str, key: str | None
    ) -> Notification | None:
        # Its own key: replies and "taken" notices look for ladder keys of people alerted.
        key = f"{DRILL_SKIP_PREFIX}{key}" if key is not None else None
        if key is not None and self._exists(key):
            return None
        row = Notification(
            case_id=case_id,
            channel=channel,
            to=to,
            recipient=recipient,
            body=body[:MAX_BODY_CHARS],
            status=SKIPPED,
            detail=DRILL_SKIP_DETAIL,
            idempotency_key=key,
            created_at=self._now,
            updated_at=self._now,
        )
        self.session.add(row)
        self.session.flush()
        return row

    def _exists(self, key: str) -> bool:
        if self._absent_now(key):
            return False
        return self.session.exec(_BY_KEY, params={"key": key}).first() is not None

    def _absent_now(self, key: str) -> bool:
        """Whether `expect` found `key` unused in this transaction; once added it is used."""
        if key in self._absent:
            self._absent.discard(key)
            return True
        return False


# A message written at once: built once and run on the session's connection, it skips the
# ORM object and its flush (a timer's handler writes one or two a fire).
_NOTIFICATIONS = SQLModel.metadata.tables[Notification.__tablename__]
_NEW_ROW = insert(_NOTIFICATIONS)
# The same, unless a row has its idempotency key already: then nothing is written or returned.
_NEW_ROW_ONCE = Pair(
    lambda pg: (
        (postgresql_insert if pg else sqlite_insert)(_NOTIFICATIONS)
        .on_conflict_do_nothing(index_elements=[_NOTIFICATIONS.c.idempotency_key])
        .returning(_NOTIFICATIONS.c.id)
    )
)
# The columns of a row nobody has sent yet that `OutboxWriter._values` leaves to the model.
_UNSENT = {"provider_id": None, "detail": None, "attempts": 0, "sent_at": None, "bounded_by": None}
# Asked before a message of a batch (or a drill) is added as an object: built once.
_BY_KEY = select(Notification.id).where(Notification.idempotency_key == bindparam("key"))
_KEYS_IN = select(Notification.idempotency_key).where(
    col(Notification.idempotency_key).in_(bindparam("keys", expanding=True))
)


# What the provider said of a row it took (the sending threads record these in bulk).
_RECORD_SENT = (
    update(Notification)
    .where(col(Notification.id) == bindparam("nid"))
    .values(
        status=bindparam("st"),
        provider_id=bindparam("pid"),
        detail=bindparam("det"),
        next_attempt_at=None,
        updated_at=bindparam("at"),
    )
)


def _claim_update(due: ColumnElement[bool], *, postgres: bool = False) -> Update:
    """Claim rows :ids that are unsent phone messages and `due` (the ORM's UPDATE, built once)."""
    n = Notification
    return (
        update(n)
        .where(
            one_of(col(n.id), "ids", postgres=postgres),
            col(n.provider_id).is_(None),
            col(n.channel).in_(PERSON_CHANNELS),
            due,
        )
        .values(
            status="sending",
            attempts=col(n.attempts) + 1,
            next_attempt_at=bindparam("lease"),
            updated_at=bindparam("now"),
        )
    )


def _claim(due: ColumnElement[bool]) -> ReturningUpdate[Notification]:
    """`_claim_update`, the claimed rows back with it (RETURNING): no second round trip."""
    return _claim_update(due).returning(Notification).execution_options(populate_existing=True)


def _claim_params(ids: list[int], now: datetime) -> dict[str, object]:
    return {"ids": ids, "now": now, "lease": now + timedelta(seconds=SEND_LEASE_S)}


_NEW = col(Notification.status) == "pending"
# Rows never tried, and rows due by status and retry time, claimed (`_claim_in`).
_CLAIM_NEW = _claim(_NEW)
_CLAIM_DUE = _claim(
    or_(
        _NEW,
        and_(
            col(Notification.status).in_(("failed", "sending", HELD)),
            col(Notification.next_attempt_at) <= bindparam("now"),
        ),
    )
)
# PostgreSQL: the claim of rows never tried as a CTE of the read of their cases, one round
# trip for both (SQLite's UPDATE cannot be a CTE); its ids as one array, one text any batch.
_CLAIMED = (
    _claim_update(_NEW, postgres=True)
    .returning(*cast(Table, Notification.__table__).c)  # type: ignore[attr-defined]
    .cte("claimed")
)
_CLAIM_NEW_WITH_CASES = (
    select(aliased(Notification, _CLAIMED), Case)
    .outerjoin(Case, col(Case.id) == _CLAIMED.c.case_id)
    .execution_options(populate_existing=True)
)
# The cases of rows claimed together.
_CASES_IN = select(Case).where(col(Case.id).in_(bindparam("ids", expanding=True)))


# Called in the transaction that gave up on a row: (uow, row, what went wrong, now).
GaveUpHook = Callable[[SqlUnitOfWork, Notification, str, datetime], None]


class NotificationSender:
    """Sends notification rows through the notifier of their channel, on its own thread.

    `enqueue` is safe from any thread. Without `start()` (tests, one-shot tools) `drain()`
    delivers what is queued on the calling thread. `on_gave_up` hears of every row that
    will not be tried again (the number refused, attempts used up).
    """

    def __init__(
        self,
        services: Services,
        notifiers: Mapping[Channel, Notifier],
        *,
        on_gave_up: GaveUpHook | None = None,
        limits: SendLimits | None = None,
        pace_sms: bool = False,
    ) -> None:
        self._services = services
        self._notifiers = dict(notifiers)
        self._on_gave_up = on_gave_up
        self.bounds = SendBounds(
            limits or limits_from_settings(services.settings), services.tz, ALERT_KEY_PREFIX
        )
        # Pacing is per sender number, i.e. per provider account here: the outbox needs none.
        self._sms_per_s = self.bounds.limits.sms_per_second if pace_sms else 0.0
        self._sms_free_at: datetime | None = None
        self._sms_slots: dict[int, datetime] = {}  # row → the pace slot kept for it
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._queued: set[int] = set()
        self._urgent: set[int] = set()  # queued rows of an emergency's alert
        self._marking = threading.local()  # set while a thread enqueues an emergency's rows
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        # Claimed rows not yet sent stay few: a row claimed long before its request would
        # outlive its lease and be claimed again.
        self._in_flight = threading.BoundedSemaphore(CLAIMED_AHEAD)
        # Held by whoever judges claimed rows (the SMS pace is kept here, in memory): the
        # claiming thread, or a ladder step claiming its own rows (`claim_written`).
        self._judging = threading.Lock()
        self._sending = 0  # rows handed to the sending threads, not done yet
        # Receipts of sent rows not yet recorded, and who records them now (`_record_receipts`).
        self._receipts: list[tuple[int, DeliveryReceipt, datetime]] = []
        self._recording = threading.Lock()
        self.sent = 0
        self.failed = 0

    @property
    def backlog(self) -> int:
        """How many rows wait in the queue."""
        with self._lock:
            return len(self._queued)

    @contextmanager
    def urgent(self) -> Iterator[None]:
        """Rows this thread enqueues meanwhile are an emergency's: they do not step aside."""
        before = getattr(self._marking, "on", False)  # nested in another: restore, not clear
        self._marking.on = True
        try:
            yield
        finally:
            self._marking.on = before

    def enqueue(self, ids: Iterable[int]) -> None:
        """Hand rows to the sender; a row already waiting is not queued twice."""
        urgent = getattr(self._marking, "on", False)
        with self._lock:
            fresh = [i for i in ids if i not in self._queued]
            self._queued.update(fresh)
            if urgent:
                self._urgent.update(fresh)
        for notification_id in fresh:
            self._queue.put(notification_id)

    def enqueue_due(self, now: datetime) -> int:
        """Queue rows whose retry time (or lost sender's lease, or grace) has come."""
        # A read on a bare connection with a statement built once: it runs every beat, and
        # a session for a read that mostly finds nothing cost 0.45 ms a beat.
        with self._services.engine.connect() as conn:
            ids = conn.execute(_DUE, {"now": now}).scalars().all()
        due = [i for i in ids if i is not None]
        self.enqueue(due)
        return len(due)

    def drain(self) -> int:
        """Deliver everything queued now on the calling thread; returns how many were taken.

        What waits at once is claimed in one transaction, as the sender thread claims an
        emergency's alerts, then sent in order: a commit per row cost more than its send.
        """
        taken = 0
        while True:
            batch: list[int] = []
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    batch.append(item)
            if not batch:
                return taken
            with self._lock:
                self._queued.difference_update(batch)
                self._urgent.difference_update(batch)
            taken += len(batch)
            sent: list[tuple[int, DeliveryReceipt]] = []
            try:
                for notification_id, message, attempts in self._claim_batch(batch):
                    try:
                        handed = self._hand_over(notification_id, message, attempts)
                    except Exception:
                        log.exception("delivering notification %d failed", notification_id)
                        continue
                    if isinstance(handed, DeliveryReceipt):
                        sent.append((notification_id, handed))
            finally:
                # What went out is recorded even if a later send blew up: unrecorded, it
                # would go out again when its lease ran out.
                if sent:
                    self._record_success(sent)

    def start(self) -> None:
        """Start the claiming thread and the threads that send what it claimed."""
        if self._thread is not None:
            return
        self._pool = ThreadPoolExecutor(SEND_THREADS, thread_name_prefix="alerts-send")
        self._thread = threading.Thread(target=self._run, name="alerts-sender", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the messages in hand; rows still queued are picked up by the next sweep."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(STOP_JOIN_S)
        if self._thread.is_alive():
            log.warning("sender thread did not stop within %.0f s", STOP_JOIN_S)
        self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)  # each request ends within the notifier's timeout
            self._pool = None

    @property
    def running(self) -> bool:
        """True while the sender thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        pool = self._pool
        carried: int | None = None  # taken from the queue while gathering, not yet handled
        have_carried = False
        while True:
            if have_carried:
                item, have_carried = carried, False
            else:
                item = self._queue.get()
            if item is None:
                return
            urgent = self._take_urgent(item)
            if not urgent:
                # Up to 50 ms a row while presses wait for acks; an emergency's alert does
                # not wait (under a steady press rate that capped them at 20 a second).
                self._services.intake.step_aside()
            if pool is None:  # pragma: no cover - start() makes the pool first
                with self._services.alerting.busy():
                    self._take(item)
                continue
            with self._lock:
                self._queued.discard(item)
            self._in_flight.acquire()  # a sending thread is free, or soon will be
            batch = [item]
            # While a sending thread is idle, a claim takes a row for each sending thread
            # at most: rows claimed together wait for the whole claim, and a burst's first
            # alerts waited for the judgement of 20-30 rows (20-45 ms here) before any
            # request. (Claims of fewer, for just the idle threads, did not pay their round
            # trips under load: the claiming thread fell behind.) With every thread busy,
            # rows claimed now wait for one anyway: then as many as may be claimed ahead go
            # together, one commit for the lot.
            with self._lock:
                busy = self._sending >= SEND_THREADS
            most = CLAIMED_AHEAD if busy else SEND_THREADS
            if urgent:
                # Emergencies' alerts queued behind this one are claimed in the same
                # transaction, up to `most`.
                while len(batch) < most and self._in_flight.acquire(
                    blocking=len(batch) < SEND_THREADS and not self._queue.empty()
                ):
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        self._in_flight.release()
                        break
                    if more is None or not self._take_urgent(more):
                        self._in_flight.release()
                        carried, have_carried = more, True
                        break
                    with self._lock:
                        self._queued.discard(more)
                    batch.append(more)
            with self._services.alerting.busy():  # a storm's reports wait meanwhile
                claimed = self._claim_batch(batch)
            for _ in range(len(batch) - len(claimed)):
                self._in_flight.release()
            self._submit(pool, claimed)

    def _submit(
        self, pool: ThreadPoolExecutor, claimed: list[tuple[int, OutboundMessage, int]]
    ) -> None:
        for notification_id, message, attempts in claimed:
            with self._lock:
                self._sending += 1
            try:
                pool.submit(self._send_quietly, notification_id, message, attempts)
            except RuntimeError:  # shut down meanwhile: its lease runs out, the sweep sends it
                log.warning("sender stopped: notification %d waits for its lease", notification_id)
                with self._lock:
                    self._sending -= 1
                self._in_flight.release()

    def claim_written(self, uow: SqlUnitOfWork, ids: list[int], now: datetime) -> Handover | None:
        """Claim, in the writer's own transaction, rows it wrote that should go at once.

        A new emergency's step 0 calls this before its commit: its alerts are claimed and
        judged (send bounds, pace, skip rules) as the claiming thread would, and go to the
        sending threads as soon as the commit is done (`Handover.go`), instead of waiting
        for the claiming thread and a transaction of its own. The claim is the same guard:
        committed with the rows, before any request, so a row still goes out at most once.

        Only as many rows as sending threads are free now are claimed (the rest, and all of
        them when none is free, the sender running nowhere, or the claiming thread judging
        this moment, are left to `enqueue`): a claimed row never waits long enough for its
        lease to run out. None when nothing was claimed here.
        """
        if self._pool is None or not ids or not self._judging.acquire(blocking=False):
            return None
        slots = 0
        try:
            while slots < len(ids) and self._in_flight.acquire(blocking=False):
                slots += 1
            if not slots:
                return None
            mine = ids[:slots]
            judged = self._claim_in(uow, mine, now)
        except BaseException:
            for _ in range(slots):
                self._in_flight.release()
            raise
        finally:
            self._judging.release()
        claimed = [(i, *one) for i, one in zip(mine, judged, strict=True) if one is not None]
        return Handover(self, claimed, slots, taken=frozenset(mine))

    def _go(self, claimed: list[tuple[int, OutboundMessage, int]], slots: int) -> None:
        pool = self._pool
        if pool is None:  # stopped meanwhile: the leases run out, the sweep sends them
            for _ in range(slots):
                self._in_flight.release()
            return
        for _ in range(slots - len(claimed)):
            self._in_flight.release()
        self._submit(pool, claimed)

    def _take_urgent(self, item: int) -> bool:
        """Whether a queued row is an emergency's alert (and forget that it was marked)."""
        with self._lock:
            urgent = item in self._urgent
            self._urgent.discard(item)
        return urgent

    def _claim_batch(self, ids: list[int]) -> list[tuple[int, OutboundMessage, int]]:
        """Claim rows in one transaction, in order; the ones to send now, with their attempt.

        Should the transaction fail, each row is claimed on its own instead, so one bad row
        keeps no other from going out.
        """
        claimed: list[tuple[int, OutboundMessage, int]] = []
        if len(ids) > 1:
            try:
                now = self._services.clock.now()
                with self._judging, self._services.uow() as uow:
                    judged = self._claim_in(uow, ids, now)
                    for notification_id, one in zip(ids, judged, strict=True):
                        if one is not None:
                            claimed.append((notification_id, *one))
                    uow.commit()
            except Exception:
                log.exception("claiming notifications %s at once failed; one by one", ids)
                claimed = []
            else:
                return claimed
        for notification_id in ids:
            try:
                one = self._claim(notification_id)
            except Exception:
                log.exception("claiming notification %d failed", notification_id)
                continue
            if one is not None:
                claimed.append((notification_id, *one))
        return claimed

    def _send_quietly(self, notification_id: int, message: OutboundMessage, attempts: int) -> None:
        try:
            with self._services.alerting.busy():
                self._send(notification_id, message, attempts)
        except Exception:
            log.exception("delivering notification %d failed", notification_id)
        finally:
            with self._lock:
                self._sending -= 1
            self._in_flight.release()

    def _take(self, notification_id: int) -> None:
        with self._lock:
            self._queued.discard(notification_id)
            self._urgent.discard(notification_id)
        try:
            self.deliver(notification_id)
        except Exception:
            log.exception("delivering notification %d failed", notification_id)

    def deliver(self, notification_id: int) -> str | None:
        """Claim, send and record one row; returns its new status, None if it was not ours."""
        claimed = self._claim(notification_id)
        if claimed is None:
            return None
        return self._send(notification_id, *claimed)

    def _send(self, notification_id: int, message: OutboundMessage, attempts: int) -> str:
        """Hand a claimed row to its notifier and record what came of it; its new status."""
        handed = self._hand_over(notification_id, message, attempts)
        if isinstance(handed, str):
            return handed
        return self._record_success([(notification_id, handed)])

    def _hand_over(
        self, notification_id: int, message: OutboundMessage, attempts: int
    ) -> DeliveryReceipt | str:
        """Hand a claimed row to its notifier: its receipt to record, or a failure's status."""
        notifier = self._notifiers.get(message.channel)
        if notifier is None:
            # Never "delivered": the row fails where all can see it (or falls back).
            detail = f"no notifier for channel {message.channel}"
            log.error("notification %d: %s", notification_id, detail)
            return self._record_failure(notification_id, attempts, detail, False)
        try:
            receipt = notifier.send(message)
        except NotifyError as exc:
            return self._record_failure(notification_id, attempts, str(exc), exc.retryable)
        except Exception as exc:
            # A notifier bug must not lose the alert: log it and retry like an outage.
            log.exception("notifier %s raised on notification %d", message.channel, notification_id)
            return self._record_failure(notification_id, attempts, f"internal error: {exc}", True)
        if receipt.status == "failed":
            return self._record_failure(notification_id, attempts, receipt.detail or "", True)
        return receipt

    def _claim(self, notification_id: int) -> tuple[OutboundMessage, int] | None:
        now = self._services.clock.now()
        with self._judging, self._services.uow() as uow:
            (claimed,) = self._claim_in(uow, [notification_id], now)
            uow.commit()
        return claimed

    def _claim_in(
        self, uow: SqlUnitOfWork, ids: list[int], now: datetime
    ) -> list[tuple[OutboundMessage, int] | None]:
        """Claim rows in `uow` (not committed), in order: each one's message and attempt.

        None for a row that does not go now.
        """
        # Rows never tried (a new case's alerts, nearly always) are claimed in one statement.
        # A retried or held row is claimed at its turn, as one by one: an alert judged before
        # it may fold it, and a folded row must not be claimed.
        # Their cases are held here: the session keeps loaded rows only while referred to.
        rows, cases = self._claim_rows_and_cases(uow, ids, now) if len(ids) > 1 else ({}, {})
        # The send bounds count the rows claimed together once, not a query each.
        tally = (
            self.bounds.tally(
                uow.session, [(r, cases.get(r.case_id or "")) for r in rows.values()], now
            )
            if rows
            else None
        )
        claimed: list[tuple[OutboundMessage, int] | None] = []
        for notification_id in ids:
            row = rows.get(notification_id)
            if row is None:
                row = self._claim_rows(uow, [notification_id], _CLAIM_DUE, now).get(notification_id)
                if row is None:
                    claimed.append(None)
                    continue
                cases.update(self._cases(uow, [row], known=cases))
                if tally is not None:
                    tally.exact = False  # not in the tally: the database counts from here on
            claimed.append(self._judge(uow, row, cases.get(row.case_id or ""), now, tally))
        return claimed

    @staticmethod
    def _claim_rows(
        uow: SqlUnitOfWork,
        ids: list[int],
        claim: ReturningUpdate[Notification],
        now: datetime,
    ) -> dict[int, Notification]:
        """Claim those of `ids` that are unsent phone messages and due by `claim`; by id."""
        params = _claim_params(ids, now)
        found = cast(list[Notification], uow.session.execute(claim, params).scalars().all())
        return {row.id: row for row in found if row.id is not None}

    def _claim_rows_and_cases(
        self, uow: SqlUnitOfWork, ids: list[int], now: datetime
    ) -> tuple[dict[int, Notification], dict[str, Case]]:
        """`_claim_rows` of rows never tried, and the cases of the rows claimed."""
        if not is_postgres(uow.session):
            alone = self._claim_rows(uow, ids, _CLAIM_NEW, now)
            return alone, self._cases(uow, alone.values())
        found = uow.session.execute(_CLAIM_NEW_WITH_CASES, _claim_params(ids, now)).all()
        rows: dict[int, Notification] = {}
        cases: dict[str, Case] = {}
        for notification, case in found:
            if notification.id is not None:
                rows[notification.id] = notification
            if case is not None:
                cases[case.id] = case
        return rows, cases

    @staticmethod
    def _cases(
        uow: SqlUnitOfWork, rows: Iterable[Notification], known: Mapping[str, Case] | None = None
    ) -> dict[str, Case]:
        """The cases of `rows` not in `known`, in one query (none for those loaded already).

        A ladder step claiming its own rows (`claim_written`) has their cases loaded, and
        locked, in its transaction: as they are now in it, no query asks for them again.
        """
        wanted = {r.case_id for r in rows if r.case_id is not None} - set(known or ())
        found: dict[str, Case] = {}
        for case_id in wanted:
            loaded = uow.session.identity_map.get(identity_key(Case, case_id))
            if isinstance(loaded, Case) and not sa_inspect(loaded).expired_attributes:
                found[case_id] = loaded
        wanted -= set(found)
        if wanted:
            found.update(
                (c.id, c) for c in uow.session.exec(_CASES_IN, params={"ids": list(wanted)})
            )
        return found

    def _judge(
        self,
        uow: SqlUnitOfWork,
        row: Notification,
        case: Case | None,
        now: datetime,
        tally: Tally | None = None,
    ) -> tuple[OutboundMessage, int] | None:
        """A claimed row's message and attempt if it goes now; else None, and `uow` says why.

        `tally`: the counts of the batch the row was claimed in, kept up to date here.
        """
        notification_id = row.id or 0  # a claimed row is a stored row
        reason = _skip_reason(uow.session, row, case)
        if reason is not None:
            self._sms_slots.pop(notification_id, None)
            row.status = SKIPPED
            row.detail = reason
            row.attempts -= 1  # the claim counted an attempt that is not made
            row.next_attempt_at = None
            uow.session.add(row)
            return None
        outgoing = _outgoing(row, case)
        sent_before = row.sent_at
        counted = tally.counted(row, case, outgoing) if tally is not None else None
        decision = self.bounds.check(uow, row, case, outgoing, now, counted=counted)
        if decision.verdict is not Verdict.SEND:
            self._sms_slots.pop(notification_id, None)  # its slot is not needed now
        elif not self._paced(row, outgoing, now):
            row.status = "pending"
            row.sent_at = None
            row.next_attempt_at = self._sms_slots[notification_id]
            row.detail = f"paced: {self._sms_per_s:g} SMS segment(s)/s per sender number"
        if tally is not None:
            tally.judged(row, case, sent_before)
        if decision.verdict is not Verdict.SEND or row.sent_at is None:
            row.attempts -= 1  # the claim counted an attempt that is not made
            uow.session.add(row)
            return None
        message = OutboundMessage(
            notification_id,
            Channel(row.channel),
            row.to,
            row.body,
            row.say,
            row.language,
            row.case_id,
            row.idempotency_key,
        )
        return message, row.attempts

    def _paced(self, row: Notification, outgoing: Outgoing, now: datetime) -> bool:
        """True when an SMS may go now; else its slot is kept in `_sms_slots`.

        Emergency alerts never wait for a slot, but take one: the notices behind them wait.
        """
        if row.channel != Channel.sms.value or self._sms_per_s <= 0 or row.id is None:
            return True
        kept = self._sms_slots.get(row.id)
        if kept is not None:
            if kept > now:
                return False
            del self._sms_slots[row.id]
            return True
        start, free_at = pace(self._sms_free_at, now, sms_segments(row.body), self._sms_per_s)
        self._sms_free_at = free_at
        if outgoing.urgent or start <= now:
            return True
        self._sms_slots[row.id] = start
        return False

    def _record_success(self, sent: list[tuple[int, DeliveryReceipt]]) -> str:
        """Record what the provider said of rows sent (with other threads'); the last status."""
        now = self._services.clock.now()
        with self._lock:
            self._receipts.extend(
                (notification_id, receipt, now) for notification_id, receipt in sent
            )
        self._record_receipts()
        with self._lock:
            self.sent += len(sent)
        for notification_id, receipt in sent:
            status, provider_id = receipt.status, receipt.provider_id
            log.debug("notification %d %s (%s)", notification_id, status, provider_id)
        return sent[-1][1].status

    def _record_receipts(self) -> None:
        """Record the receipts waiting, all in one transaction, unless another thread is at it.

        That thread looks again once done, so a receipt left to it is recorded too: under
        load the sending threads share commits instead of queueing for one each.
        """
        while True:
            if not self._recording.acquire(blocking=False):
                return
            try:
                with self._lock:
                    receipts, self._receipts = self._receipts, []
                if receipts:
                    self._write_receipts(receipts)
            finally:
                self._recording.release()
            with self._lock:
                if not self._receipts:
                    return

    def _write_receipts(self, receipts: list[tuple[int, DeliveryReceipt, datetime]]) -> None:
        with self._services.uow() as uow:
            # By id, the rows unloaded: one statement, executed for each receipt.
            uow.session.connection().execute(
                _RECORD_SENT,
                [
                    {
                        "nid": notification_id,
                        "st": receipt.status,
                        "pid": receipt.provider_id,
                        "det": (receipt.detail or "")[:MAX_DETAIL_CHARS] or None,
                        "at": at,
                    }
                    for notification_id, receipt, at in receipts
                ],
            )
            uow.commit()

    def _record_failure(
        self, notification_id: int, attempts: int, detail: str, retryable: bool
    ) -> str:
        now = self._services.clock.now()
        with self._lock:
            self.failed += 1
        give_up = not retryable or attempts >= MAX_ATTEMPTS
        fell_back: list[int] = []
        with self._services.uow() as uow:
            row = uow.session.get(Notification, notification_id)
            if row is None:  # pragma: no cover - rows are never deleted
                return "failed"
            row.status = "failed"
            row.updated_at = now
            row.sent_at = None  # nothing went out: the send bounds do not count it
            fallback = fall_back(uow.session, row, detail, now)
            if fallback is not None:
                # The person is reached on the fallback channel now, not after retries.
                row.next_attempt_at = None
                row.detail = f"{detail}; sent by {fallback.channel} instead"[:MAX_DETAIL_CHARS]
                if fallback.id is not None:
                    fell_back.append(fallback.id)
            elif give_up:
                row.next_attempt_at = None
                row.detail = f"gave up after {attempts} attempt(s): {detail}"[:MAX_DETAIL_CHARS]
                OutboxWriter(uow.session, now).add(
                    case_id=row.case_id,
                    channel="console",
                    to="operators",
                    recipient="operators",
                    body=Msg(
                        "Could not reach {who} ({to}) by {channel}: {detail}",
                        who=row.recipient,
                        to=row.to,
                        channel=term(row.channel),
                        detail=detail,
                    ),
                )
                if self._on_gave_up is not None:
                    self._on_gave_up(uow, row, detail, now)
            else:
                backoff = RETRY_BACKOFF_S[min(attempts, len(RETRY_BACKOFF_S)) - 1]
                row.next_attempt_at = now + timedelta(seconds=backoff)
                row.detail = f"attempt {attempts} failed, retry in {backoff} s: {detail}"[
                    :MAX_DETAIL_CHARS
                ]
            uow.session.add(row)
            to = row.to
            uow.commit()
        log.warning(
            "notification %d to %s failed (attempt %d%s): %s",
            notification_id,
            mask_phone(to),
            attempts,
            ", falling back" if fell_back else ", giving up" if give_up else "",
            mask_phones_in(detail),  # a provider's error quotes the number
        )
        self.enqueue(fell_back)
        return "failed"


class Handover:
    """Rows a writer's transaction claimed (`NotificationSender.claim_written`), and their slots.

    After the commit `go` hands them to the sending threads; after a rollback `drop` gives
    the slots back (the rows, and their claim, are gone with the transaction).
    """

    def __init__(
        self,
        sender: NotificationSender,
        claimed: list[tuple[int, OutboundMessage, int]],
        slots: int,
        *,
        taken: frozenset[int],
    ) -> None:
        self._sender = sender
        self._claimed = claimed
        self._slots = slots
        self.taken = taken  # every row claimed or judged here: none of them is queued
        self._done = False

    def go(self) -> None:
        """Send what was claimed (call after the commit)."""
        if not self._done:
            self._done = True
            self._sender._go(self._claimed, self._slots)

    def drop(self) -> None:
        """Give the slots back (call after a rollback)."""
        if not self._done:
            self._done = True
            self._sender._go([], self._slots)


def fall_back(
    session: Session, row: Notification, detail: str, now: datetime
) -> Notification | None:
    """The same message on the channel's fallback (WeChat → SMS), written now; None if none.

    Its key is the one the ladder would have given the fallback channel, so replies and
    "taken" notices find it like any alert, and it is written once.
    """
    channel = CHANNELS[Channel(row.channel)].fallback
    if channel is None:
        return None
    phone = phone_of(session, row.recipient)
    if not phone:
        return None
    key = row.idempotency_key
    if key is not None:
        segment = f":{row.channel}:"
        key = key.replace(segment, f":{channel}:", 1) if segment in key else f"{key}:{channel}"
    writer = OutboxWriter(session, now)
    added = writer.add_row(
        case_id=row.case_id,
        channel=channel,
        to=phone,
        recipient=row.recipient,
        body=row.body,
        say=row.say,
        key=key,
        language=row.language,
    )
    if added is not None:
        log.info(
            "notification %d by %s failed (%s): falling back to %s",
            row.id,
            row.channel,
            mask_phones_in(detail),
            channel,
        )
    return added


def _outgoing(row: Notification, case: Case | None) -> Outgoing:
    """What the send bounds need to know of a row: is it an emergency alert, and foldable."""
    if case is None or case.kind != CaseKind.EMERGENCY:
        return Outgoing(urgent=False)
    key = row.idempotency_key or ""
    ladder = key.startswith(ALERT_KEY_PREFIX)
    return Outgoing(urgent=ladder or key.startswith(LOOP_KEY_PREFIX), foldable=ladder)


def _skip_reason(session: Session, row: Notification, case: Case | None) -> str | None:
    """Why a claimed row (of `case`) must not go out after all, or None to send it."""
    key = row.idempotency_key or ""
    if row.case_id is None:
        return None
    if key.startswith(ALERT_KEY_PREFIX):
        # A retried "reply 1 to take it" after someone took the case only confuses. The
        # closed loop's alerts about a taken case (nobody on site yet) are written after it
        # was taken, on purpose: those go out.
        if case is not None and not is_unowned(case.state):
            taken = case.acknowledged_at
            if taken is None or row.created_at <= taken:
                return TAKEN_SKIP_DETAIL
    elif key.startswith(ELDER_CALL_KEY_PREFIX) and has_checked_in_late(session, row.case_id):
        # The elder checked in while this call waited (its event not yet handled, or a
        # send in flight at that moment failed): calling them now would only alarm them.
        return CHECKED_IN_LATE_DETAIL
    return None


def cancel_elder_calls(session: Session, case_id: str, *, detail: str, now: datetime) -> int:
    """Skip the case's calls to the elder not placed yet (waiting to go, or to be retried).

    A call being placed this very moment is left to its sender; should it fail, its retry
    is skipped when claimed (`_skip_reason`). Returns how many rows were cancelled.
    """
    n = Notification
    result = cast(
        CursorResult[Any],
        session.execute(
            update(n)
            .where(
                col(n.case_id) == case_id,
                col(n.idempotency_key).startswith(ELDER_CALL_KEY_PREFIX),
                col(n.provider_id).is_(None),
                or_(
                    col(n.status) == "pending",
                    # A failed row with no next attempt gave up: it stays as it ended.
                    and_(col(n.status) == "failed", col(n.next_attempt_at).is_not(None)),
                ),
            )
            .values(status=SKIPPED, detail=detail, next_attempt_at=None, updated_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount
