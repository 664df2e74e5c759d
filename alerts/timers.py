"""Durable timers: rows of the `timer` table fire once, whichever process sweeps them first.

`TimerSweeper.sweep_due(now)` claims due rows one transaction each (PostgreSQL:
`FOR UPDATE SKIP LOCKED`, so several processes share the work; SQLite: one process, its
writes serialised), runs the handler registered for the row's `purpose` inside that
transaction, marks it fired, commits, and only then hands the notifications it wrote to the
sender. A crash before the commit leaves the row due; after it, the row is fired and its
messages are rows the sender's own sweep finds. APScheduler only calls `sweep_due` on a beat.

Handlers are registered per purpose; the signature a handler must have is `TimerHandler`:

    def handle(ctx: TimerContext, timer: Timer) -> None

It reads and writes through `ctx.uow.session`, writes messages with `ctx.outbox.add(...)`,
schedules follow-ups with `ctx.schedule(...)`, and raises `TimerBusy` to leave the row for a
later sweep (e.g. when the case row is locked by someone acknowledging it). Any other
exception rolls the transaction back and retries the row `HANDLER_RETRY_S` later.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import zip_longest
from typing import NamedTuple, Protocol

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import bindparam, update
from sqlalchemy import select as sa_select
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from alerts.sender import OutboxWriter
from care_api.domain.model import TimerPurpose
from care_api.services import Services
from care_api.store.arrays import Pair, one_of
from care_api.store.tables import Timer
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.log import rows_at_commit, write_timer

log = logging.getLogger(__name__)

HANDLER_RETRY_S = 30  # a handler that raised is tried again this much later
MAX_FIRES_PER_SWEEP = 500  # a backlog after downtime is worked off over several beats
# Due timers of one purpose and step fired in one transaction by the sweep, at most: the
# fast path's batch of new emergencies (`alerts.runtime.OPEN_BATCH`).
FIRE_TOGETHER = 8
SWEEP_JOB_ID = "alerts-timer-sweep"
# A timer that may still fire: neither fired nor cancelled (a cancelled one stays unfired
# for good). Every read of timers to fire, and the claim, keep to these.
_LIVE = (col(Timer.fired_at).is_(None), col(Timer.cancelled).is_(False))


class TimerBusy(Exception):
    """Raised by a handler to leave its timer due for a later sweep, without an error."""


class Scheduled(NamedTuple):
    """A timer row a handler added (`TimerContext.schedule`)."""

    case_id: str | None
    purpose: TimerPurpose
    step: int
    due_at: datetime


@dataclass
class TimerContext:
    """What a timer handler works with: one transaction, its time, and its outbox."""

    uow: SqlUnitOfWork
    now: datetime
    outbox: OutboxWriter
    scheduled: list[Scheduled] = field(default_factory=list)  # added by `schedule`, in order
    # Set by a handler whose messages are an emergency's alerts: they do not step aside.
    urgent: bool = False
    # What a batch's preparers read for all its timers at once (`TimerSweeper.prepare`), by
    # the preparer's own key; empty when the timer fires alone.
    shared: dict[str, object] = field(default_factory=dict)

    def schedule(
        self, *, purpose: TimerPurpose, due_at: datetime, case_id: str | None = None, step: int = 0
    ) -> Scheduled:
        """Add a timer row in this transaction."""
        added = Scheduled(case_id, purpose, step, due_at)
        # Written now; in a batch (`fire_many`) it waits for the commit with the others.
        write_timer(
            self.uow.session,
            purpose=purpose,
            due_at=due_at,
            created_at=self.now,
            case_id=case_id,
            step=step,
        )
        self.scheduled.append(added)
        return added


TimerHandler = Callable[[TimerContext, Timer], None]


class Handed(Protocol):
    """Rows claimed in a batch's own transaction (`ClaimWritten`): sent after its commit."""

    taken: frozenset[int]  # rows claimed (or judged) there: not to be dispatched again

    def go(self) -> None: ...
    def drop(self) -> None: ...


# Claims, before the commit of a batch, phone rows its urgent handlers wrote (in this order);
# None when it claimed nothing (the sender's `claim_written`).
ClaimWritten = Callable[[SqlUnitOfWork, list[int], datetime], Handed | None]
# Reads, in the batch's transaction, what the handlers of these timers will need, into `shared`.
TimerPreparer = Callable[[SqlUnitOfWork, Sequence[Timer], dict[str, object]], None]
Dispatch = Callable[[Sequence[int]], None]


class TimerSweeper:
    """Fires due timer rows through the handler registered for their purpose."""

    def __init__(
        self,
        services: Services,
        dispatch: Dispatch,
        handlers: Mapping[TimerPurpose, TimerHandler] | None = None,
        *,
        urgent: Callable[[], AbstractContextManager[None]] | None = None,
        claim_written: ClaimWritten | None = None,
    ) -> None:
        self._services = services
        self._dispatch = dispatch
        self._urgent = urgent  # wraps the dispatch of a handler that set `ctx.urgent`
        self._claim_written = claim_written
        self.handlers: dict[TimerPurpose, TimerHandler] = dict(handlers or {})
        self._preparers: dict[TimerPurpose, list[TimerPreparer]] = {}
        self._warned: set[int] = set()
        self.fired = 0
        self.last_sweep_at: datetime | None = None

    def register(self, purpose: TimerPurpose, handler: TimerHandler) -> None:
        """Run `handler` for every timer row of `purpose` (one handler per purpose)."""
        if purpose in self.handlers:
            raise ValueError(f"a handler for timer purpose {purpose!r} is registered already")
        self.handlers[purpose] = handler

    def prepare(self, purpose: TimerPurpose, preparer: TimerPreparer) -> None:
        """Run `preparer` before the handlers of a batch of `purpose` timers (`fire_many`)."""
        self._preparers.setdefault(purpose, []).append(preparer)

    def sweep_due(self, now: datetime) -> int:
        """Fire every timer due at `now` that nobody fired or cancelled; returns how many fired."""
        skipped: set[int] = set()
        fired, known_due = 0, False
        if self._preparers:
            if not self._any_due(now):
                return self._swept(now, 0)  # most beats: nothing due, one read
            fired = self._fire_due_together(now)
            # Due a moment ago and nothing fired since: no need to ask again.
            known_due = fired == 0
        for _ in range(MAX_FIRES_PER_SWEEP - fired):
            if not known_due and not self._any_due(now):
                break  # most beats, and after the last due one: no session for nothing
            known_due = False
            outcome = self._fire_one(_Match(due_only=True), {"now": now}, now, skipped)
            if outcome is None:
                break
            fired += outcome
        return self._swept(now, fired)

    def _swept(self, now: datetime, fired: int) -> int:
        self.last_sweep_at = now
        return fired

    def _fire_due_together(self, now: datetime) -> int:
        """Fire the due timers of purposes read for together (`prepare`), a batch at a time.

        New emergencies the fast path has not reached yet are due at once. One by one, a
        step 0 cost the sweep about 20 statements and a commit (a batch of 8 costs about 17
        in all): at 100 emergencies a second on PostgreSQL the sweep took a fifth of the
        fast path's backlog that way, and the CPU it spent left the rest further behind.
        """
        with self._services.engine.connect() as conn:
            rows = conn.execute(
                _DUE_TOGETHER, {"now": now, "purposes": list(self._preparers)}
            ).all()
        groups: dict[tuple[TimerPurpose, int], list[str]] = {}
        for case_id, purpose, step in rows:
            if case_id is not None:
                groups.setdefault((TimerPurpose(purpose), step), []).append(case_id)
        fired = 0
        for (purpose, step), case_ids in groups.items():
            for start in range(0, len(case_ids), FIRE_TOGETHER):
                chunk = case_ids[start : start + FIRE_TOGETHER]
                fired += len(self.fire_many(case_ids=chunk, purpose=purpose, step=step, now=now))
        return fired

    def _any_due(self, now: datetime) -> bool:
        # A plain read on a bare connection costs a fifth of a claim's session that finds
        # nothing. A row it sees may still be left alone (locked, skipped): the claim decides.
        with self._services.engine.connect() as conn:
            return conn.execute(_ANY_DUE, {"now": now}).first() is not None

    def fire(
        self,
        *,
        case_id: str,
        purpose: TimerPurpose,
        step: int | None,
        now: datetime,
        due_only: bool = False,
        scheduled: list[Scheduled] | None = None,
    ) -> bool:
        """Fire one case's timer now if it is still unfired (the fast path); True if it ran.

        `step` None fires the case's oldest unfired timer of `purpose`, whatever its step;
        `due_only` only one that is due by `now`. `scheduled` gets the timers its handler
        scheduled (committed).
        """
        match = _Match(due_only=due_only, of_case=True, of_step=step is not None)
        params = {"now": now, "case_id": case_id, "purpose": purpose, "step": step}
        return self._fire_one(match, params, now, set(), scheduled) == 1

    def fire_many(
        self, *, case_ids: Sequence[str], purpose: TimerPurpose, step: int, now: datetime
    ) -> dict[str, list[Scheduled]]:
        """Fire these cases' unfired `step` timers in one transaction (the fast path, batched).

        Returns, by case that fired, the timers its handler scheduled (committed). Should any
        handler fail or find its case busy, nothing of the batch is kept and each case is
        fired on its own instead, as `fire` would: one case's trouble costs no other its step.
        """
        handler = self.handlers.get(purpose)
        done: list[tuple[Timer, TimerContext]] = []
        handed: Handed | None = None
        try:
            with self._services.uow() as uow:
                # Many small transactions of one statement each were most of a new emergency's
                # cost: one claim, one commit and one autoflush of all their rows instead.
                rows_at_commit(uow.session)
                timers = uow.session.exec(
                    _CASES_STEP.on(uow.session),
                    params={"case_ids": list(case_ids), "purpose": purpose, "step": step},
                ).all()
                claimed = claim_timers(uow, [t.id for t in timers if t.id is not None], now)
                mine = [t for t in timers if t.id in claimed]
                if handler is not None and mine:
                    # The batch's reads first, for all its timers at once; the handlers then
                    # write without reading, so their rows reach the database together at
                    # the commit (a read between two handlers flushed the first one's alone).
                    shared: dict[str, object] = {}
                    for preparer in self._preparers.get(purpose, ()):
                        preparer(uow, mine, shared)
                    for timer in mine:
                        writer = OutboxWriter(uow.session, now)
                        ctx = TimerContext(uow, now, writer, shared=shared)
                        handler(ctx, timer)
                        done.append((timer, ctx))
                urgent = _to_send([ctx for _, ctx in done], urgent=True)
                if urgent and self._claim_written is not None:
                    # New emergencies' alerts are claimed here, with the rows: they go to
                    # the sending threads at the commit, not after a claim of their own.
                    handed = self._claim_written(uow, urgent, now)
                uow.commit()
        except Exception as exc:
            if handed is not None:
                handed.drop()
            log.info("firing %d timers at once failed (%r); one by one", len(case_ids), exc)
            fired: dict[str, list[Scheduled]] = {}
            for case_id in case_ids:
                one: list[Scheduled] = []
                if self.fire(case_id=case_id, purpose=purpose, step=step, now=now, scheduled=one):
                    fired[case_id] = one
            return fired
        self.fired += len(done)
        if handed is not None:
            handed.go()
        self._send_written([ctx for _, ctx in done], handed.taken if handed else frozenset())
        return {t.case_id: ctx.scheduled for t, ctx in done if t.case_id is not None}

    def _fire_one(
        self,
        match: _Match,
        params: dict[str, object],
        now: datetime,
        skipped: set[int],
        scheduled: list[Scheduled] | None = None,
    ) -> int | None:
        """Claim and run one timer `match` finds: 1 fired, 0 left alone, None if none matched."""
        # Only timers left alone need skipping (a fired one is no longer unfired): nearly
        # always none, and an empty NOT IN still cost its expansion on every fire.
        if skipped:
            match, params = match._replace(unless=True), {**params, "skipped": list(skipped)}
        with self._services.uow() as uow:
            # The whole row at once: the handler's `session.get` below finds it loaded.
            found = uow.session.exec(_one_timer(match), params=params).first()
            if found is None or found.id is None:
                return None
            timer_id, purpose = found.id, found.purpose
            skipped.add(timer_id)  # until it is fired and committed
            handler = self.handlers.get(purpose)
            if handler is None:
                if timer_id not in self._warned:
                    self._warned.add(timer_id)
                    log.warning("timer %d has purpose %r with no handler here", timer_id, purpose)
                return 0
            if not claim_timer(uow, timer_id, now):
                return 0  # fired or cancelled since we read it (SQLite, another thread)
            timer = uow.session.get(Timer, timer_id)
            if timer is None:  # pragma: no cover - the claim just updated it
                return 0
            ctx = TimerContext(uow, now, OutboxWriter(uow.session, now))
            try:
                handler(ctx, timer)
            except TimerBusy:
                log.debug("timer %d busy; left for the next sweep", timer_id)
                return 0
            except Exception:
                uow.rollback()
                log.exception(
                    "timer %d (%s) failed; retrying in %d s", timer_id, purpose, HANDLER_RETRY_S
                )
                self._postpone(timer_id, now)
                return 0
            uow.commit()
            skipped.discard(timer_id)  # fired: its fired_at keeps it out of the next read
            if scheduled is not None:
                scheduled.extend(ctx.scheduled)
        self.fired += 1
        log.debug("timer %d (%s step %d) fired", timer_id, purpose, timer.step)
        self._send_written([ctx])
        return 1

    def _send_written(
        self, contexts: Sequence[TimerContext], taken: frozenset[int] = frozenset()
    ) -> None:
        """Hand what committed handlers wrote to the sender, an urgent handler's as urgent.

        `taken`: rows claimed in the handlers' transaction already (none of them again).
        """
        for urgent in (True, False):
            to_send = [i for i in _to_send(contexts, urgent=urgent) if i not in taken]
            if to_send:
                with self._urgent() if urgent and self._urgent else nullcontext():
                    self._dispatch(to_send)

    def _postpone(self, timer_id: int, now: datetime) -> None:
        with self._services.uow() as uow:
            uow.session.execute(
                update(Timer)
                .where(col(Timer.id) == timer_id, col(Timer.fired_at).is_(None))
                .values(due_at=now + timedelta(seconds=HANDLER_RETRY_S))
            )
            uow.commit()


class _Match(NamedTuple):
    """Which timer `_fire_one` reads: the shape of its WHERE (the values are parameters)."""

    due_only: bool = False  # due_at <= :now
    of_case: bool = False  # case_id = :case_id and purpose = :purpose
    of_step: bool = False  # step = :step
    unless: bool = False  # id not in :skipped (timers this sweep left alone)


@functools.cache
def _one_timer(match: _Match) -> SelectOfScalar[Timer]:
    """The oldest live timer of `match`'s shape, locked: built once per shape, not per fire."""
    where: list[ColumnElement[bool]] = []
    if match.of_case:
        where += [
            col(Timer.case_id) == bindparam("case_id"),
            col(Timer.purpose) == bindparam("purpose"),
        ]
    if match.of_step:
        where.append(col(Timer.step) == bindparam("step"))
    if match.due_only:
        where.append(col(Timer.due_at) <= bindparam("now"))
    if match.unless:
        where.append(col(Timer.id).not_in(bindparam("skipped", expanding=True)))
    return (
        select(Timer)
        .where(*where, *_LIVE)
        .order_by(col(Timer.due_at), col(Timer.id))
        .limit(1)
        .with_for_update(skip_locked=True)
    )


# These cases' live timers of one purpose and step, locked (`fire_many`).
_CASES_STEP = Pair(
    lambda pg: (
        select(Timer)
        .where(
            one_of(col(Timer.case_id), "case_ids", postgres=pg),
            col(Timer.purpose) == bindparam("purpose"),
            col(Timer.step) == bindparam("step"),
            *_LIVE,
        )
        .order_by(col(Timer.due_at), col(Timer.id))
        .with_for_update(skip_locked=True)
    )
)


def _to_send(contexts: Sequence[TimerContext], *, urgent: bool) -> list[int]:
    """The phone rows of the (urgent or other) handlers, each one's first before any second.

    A batch of new emergencies writes an SMS and a call for each case: in the handlers'
    order, the eighth case's first alert waited behind seven cases' two messages for a
    sending thread. Each handler's own rows keep their order.
    """
    lists = [ctx.outbox.to_send for ctx in contexts if ctx.urgent is urgent]
    return [i for rank in zip_longest(*lists) for i in rank if i is not None]


# Whether any timer is due: built once, asked before each claim of the sweep.
_ANY_DUE = (
    sa_select(col(Timer.id))
    .where(
        *_LIVE,
        col(Timer.due_at) <= bindparam("now"),
    )
    .limit(1)
)


# Due timers of cases, of the purposes fired in batches; a case's oldest step first.
_DUE_TOGETHER = (
    sa_select(col(Timer.case_id), col(Timer.purpose), col(Timer.step))
    .where(
        *_LIVE,
        col(Timer.due_at) <= bindparam("now"),
        col(Timer.case_id).is_not(None),
        col(Timer.purpose).in_(bindparam("purposes", expanding=True)),
    )
    .order_by(col(Timer.due_at), col(Timer.id))
    .limit(MAX_FIRES_PER_SWEEP)
)


def claim_timer(uow: SqlUnitOfWork, timer_id: int, now: datetime) -> bool:
    """Mark the timer fired in this transaction; False when it was fired or cancelled already.

    Also how a handler takes over another timer whose work it does in its own transaction.
    """
    return timer_id in claim_timers(uow, [timer_id], now)


# The conditional UPDATE is the claim on SQLite, where FOR UPDATE is not rendered: the first
# writer wins and a second sees fired_at set. On PostgreSQL the rows are ours anyway. Built
# once and run on the session's connection: the ORM's UPDATE cost more than the timer's
# handler in a simulated day (every timer fired passes here).
_CLAIM = Pair(
    lambda pg: (
        update(Timer)
        .where(
            one_of(col(Timer.id), "ids", postgres=pg),
            *_LIVE,
        )
        .values(fired_at=bindparam("now"))
        .returning(col(Timer.id))
    )
)


def claim_timers(uow: SqlUnitOfWork, timer_ids: Sequence[int], now: datetime) -> set[int]:
    """Mark these timers fired in this transaction; the ids of those nobody had fired."""
    if not timer_ids:
        return set()
    session = uow.session
    session.flush()  # as the ORM's UPDATE did: pending rows first
    conn = session.connection()
    rows = conn.execute(_CLAIM.on(conn), {"ids": list(timer_ids), "now": now})
    claimed = {timer_id for timer_id in rows.scalars() if timer_id is not None}
    for timer_id in claimed:  # the loaded timers see their claim, as after the ORM's UPDATE
        loaded = session.identity_map.get(identity_key(Timer, timer_id))
        if loaded is not None:
            set_committed_value(loaded, "fired_at", now)
    return claimed


def start_beat(job: Callable[[], object], interval_s: float) -> BackgroundScheduler:
    """Run `job` every `interval_s` on an APScheduler 3 background thread, once now first.

    Memory job store (the rows are the truth, not APScheduler's store), coalesce and one
    instance (a slow sweep is never stacked), and no misfire grace (a late beat still runs).
    """
    # APScheduler logs two INFO lines per run; once a second they would drown the service log.
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
    scheduler = BackgroundScheduler(
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
    )
    scheduler.add_job(
        job,
        "interval",
        seconds=interval_s,
        id=SWEEP_JOB_ID,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,
        next_run_time=datetime.now().astimezone(),
    )
    scheduler.start()
    return scheduler
