"""AlertsComponent: the alerts engine wired up: bus subscriptions, workers, the timer beat.

Threads: the event bus calls us on the publisher's thread (gateway, HTTP), where we only
enqueue; the "alerts-events" thread writes rows for each event; the "alerts-sender" thread
sends; APScheduler's thread runs the beat (timer sweep, then due retries).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from apscheduler.schedulers.background import BackgroundScheduler
from fastapi import APIRouter
from twilio.rest import Client

from alerts import call_webhooks, webhooks, wechat_webhook
from alerts.answers import Answers
from alerts.callbacks_by_machine import AutoCallbacks
from alerts.calls import CallDesk
from alerts.checkins import Checkins
from alerts.closed_loop import ClosedLoop
from alerts.deadlines import Deadlines
from alerts.escalation import Escalation
from alerts.fleet import FleetAlerts
from alerts.hand_on import unreachable
from alerts.hotline import Hotline
from alerts.merchant_dispatch import MerchantDispatch
from alerts.notify.registry import build_notifiers
from alerts.notify.twilio import close_twilio_client, make_twilio_client
from alerts.offers import VolunteerOffers
from alerts.ports import Channel, Notifier
from alerts.quiet import QuietWatches
from alerts.reclassified import ReclassifiedNotices
from alerts.sender import NotificationSender
from alerts.summaries import ClosingSummaries
from alerts.timers import Scheduled, TimerContext, TimerSweeper, start_beat
from alerts.webhook_deps import PLACED_CALLS, PlacedCalls
from alerts.webhooks import PREFIX
from care_api.domain.cases import is_unowned
from care_api.domain.events import (
    CallRequested,
    CaseCheckedInLate,
    CaseOpened,
    CasePressedAgain,
    CaseReclassified,
    CaseStateChanged,
    DomainEvent,
    VolunteersRequested,
)
from care_api.domain.model import CaseKind, CaseState, TimerPurpose
from care_api.services import Services
from care_api.settings import Settings
from care_api.store.tables import Notification, Timer
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.ladders import MAX_STEPS, Audience
from care_api.usecases.fleet.storms import STORM_BY
from care_api.usecases.fleet.worn import open_taken_off_case
from care_api.usecases.intake.fall_window import open_held_fall

__all__ = ["WEBHOOK_ROUTERS", "AlertsComponent"]

log = logging.getLogger(__name__)

STOP_JOIN_S = 15.0
# New emergencies whose first ladder step runs in one transaction, at most. Per case the
# cost was alike at 8 and 32 a batch; 8 holds SQLite's write lock from the intake for less.
OPEN_BATCH = 8
# On PostgreSQL no batch holds a lock the whole intake needs, and a batch costs about 17
# round trips (2 to 4 ms each beside 100 emergencies a second) whatever its size: at 8, a
# backlog of 100 emergencies a second never drained (first alert p50 0.8-1 s, 0.2-0.3 s at 16).
OPEN_BATCH_SHARED_WRITERS = 16
# Other events handled after one step aside for the intake, at most.
ROUTINE_BATCH = 200
# Cases whose presses again are told of in one transaction, at most: per case it costs a
# fraction of one alone, and its rows are written together at the commit.
PRESSED_AGAIN_BATCH = 16
# Under a stream of new emergencies (the last came less than LINGER_AFTER_S ago), the first
# of a batch waits up to LINGER_S for the next: a step 0 alone cost about 5 ms of CPU, one of
# a batch of 8 under 2, and at 100 a second a step 0 alone each left a backlog. A lone
# emergency (none for a while) never waits.
LINGER_S = 0.01
LINGER_AFTER_S = 0.1
# Every webhook the alerts answer (Twilio SMS and voice, WeChat, the calls we place), for
# `create_app(routers=…)`; the calls' routes also need `AlertsComponent.app_state()`.
WEBHOOK_ROUTERS: tuple[APIRouter, ...] = (
    webhooks.router,
    wechat_webhook.router,
    call_webhooks.router,
)
FOLLOWED: tuple[type, ...] = (
    CaseOpened,
    CaseStateChanged,
    CasePressedAgain,
    CaseCheckedInLate,
    CaseReclassified,
    VolunteersRequested,
    CallRequested,
)


def _is_emergency(event: DomainEvent) -> bool:
    return isinstance(event, CaseOpened) and event.kind is CaseKind.EMERGENCY


def _in_memory_only(event: DomainEvent) -> bool:
    """Whether handling `event` touches no database: nothing to step aside for then."""
    # A case still nobody's (its ladder's own step moved it): `handle` only forgets whom
    # it told of a press again. One such event follows every new emergency's step 0, and
    # stepping aside for each (up to 50 ms while presses keep coming) held the emergencies
    # queued behind it.
    return isinstance(event, CaseStateChanged) and is_unowned(event.to_state)


class PressedAgain(NamedTuple):
    """Presses again on these cases, in a row among routine events: one unit of work."""

    case_ids: list[str]


def routine_units(
    events: Iterable[DomainEvent], told: Callable[[str], bool]
) -> Iterator[DomainEvent | PressedAgain]:
    """`events` in order, each run of presses again on cases not yet `told` as one unit.

    A press again already told of is dropped (nothing to write); a unit holds at most
    PRESSED_AGAIN_BATCH cases, each once.
    """
    again: list[str] = []
    for event in events:
        if not isinstance(event, CasePressedAgain):
            if again:
                yield PressedAgain(again)
                again = []
            yield event
        elif not told(event.case_id) and event.case_id not in again:
            again.append(event.case_id)
            if len(again) == PRESSED_AGAIN_BATCH:
                yield PressedAgain(again)
                again = []
    if again:
        yield PressedAgain(again)


def _next_rung_due(scheduled: list[Scheduled], now: datetime) -> bool:
    # Only a step that reached nobody makes the next one due at once; otherwise looking for
    # it costs a query per new case for nothing. A due rung missed here is the beat's.
    return any(t.purpose == TimerPurpose.LADDER and t.due_at <= now for t in scheduled)


def _gave_up(uow: SqlUnitOfWork, row: Notification, detail: str, now: datetime) -> None:
    # The sender wrote its console line; the case's history hears of it, and the ladder
    # goes on if that was the last person the step could reach.
    unreachable(uow, row, detail, now, tell_console=False)


class AlertsComponent:
    """Escalation ladders, durable timers and notifications, started and stopped with the app.

    Tests that move a fake clock call `attach()` (bus subscriptions only), then `run_pending()`
    and `tick()` on their own thread instead of `start()`.
    """

    def __init__(
        self,
        settings: Settings,
        services: Services,
        *,
        notifiers: Mapping[Channel, Notifier] | None = None,
    ) -> None:
        self._settings = settings
        self._services = services
        self._closers: list[Callable[[], None]] = []
        if notifiers is None:
            # Raises ChannelWithoutAdapter when a declared channel has no adapter registered.
            base = f"{settings.public_url.rstrip('/')}{PREFIX}" if settings.public_url else None
            notifiers, self._closers = build_notifiers(settings, twilio_webhooks=base)
            pace = settings.twilio_configured
        else:
            pace = False  # SMS are paced only through Twilio built here, not injected (tests)
        self.sender = NotificationSender(services, notifiers, on_gave_up=_gave_up, pace_sms=pace)
        self.escalation = Escalation(services, self.sender.enqueue)
        # People are reached only on channels a notifier serves here (WeChat when configured).
        self.escalation.channels = frozenset(c.value for c in notifiers)
        # An emergency's ladder step fired by the beat (its case opened while the events
        # thread was behind, or after a restart) is as urgent as the fast path's.
        # A batch of them claims its alerts in its own transaction (`claim_written`), even
        # with more events waiting: left to the claiming thread, each batch's alerts took a
        # transaction more before the first request. At 100 emergencies a second that cost
        # PostgreSQL's first alert 15 % (p50 59 against 51 ms, three pairs) and SQLite nothing.
        self.sweeper = TimerSweeper(
            services,
            self.sender.enqueue,
            urgent=self.sender.urgent,
            claim_written=self.sender.claim_written,
        )
        # Dispatch (volunteer offers, merchant orders, deadlines) rides on the same sweep.
        self.offers = VolunteerOffers(services)
        self.merchants = MerchantDispatch(services)
        self.escalation.audiences[Audience.VOLUNTEERS_NEAREST.value] = self.offers.nearest
        self.escalation.why_nobody[Audience.VOLUNTEERS_NEAREST.value] = self.offers.why_nobody
        self.reclassified = ReclassifiedNotices(services.settings.language)
        self.sweeper.register(
            TimerPurpose.LADDER,
            self.reclassified.after_ladder(self.offers.after_ladder(self.escalation.run_step)),
        )
        # Steps fired together (new emergencies) read what they need at once, for all.
        self.sweeper.prepare(TimerPurpose.LADDER, self.escalation.read_steps)
        self.sweeper.prepare(TimerPurpose.LADDER, self.reclassified.read_due)
        # Notices written as rows by the change itself (acknowledge, reclassify).
        self.sweeper.register(TimerPurpose.TAKEN, self.escalation.notify_taken)
        self.sweeper.register(TimerPurpose.RECLASSIFIED, self.reclassified.run)
        self.sweeper.register(TimerPurpose.VOLUNTEER_RING, self.offers.run_ring)
        self.sweeper.register(TimerPurpose.MERCHANT_NOTIFY, self.merchants.notify)
        self.sweeper.register(TimerPurpose.MERCHANT_CONTACT, self.merchants.contact_due)
        self.sweeper.register(TimerPurpose.CASE_DEADLINE, Deadlines(services).due)
        self.sweeper.register(TimerPurpose.LOOP, ClosedLoop(services, self.escalation).run)
        self.sweeper.register(TimerPurpose.CHECKIN, Checkins(services).due)
        self.sweeper.register(TimerPurpose.QUIET, QuietWatches(services).due)
        self.sweeper.register(
            TimerPurpose.MISSED_CALL, Hotline(services, Answers(services)).missed_call_due
        )
        # The terminal fleet: its watch runs on its own beat (start), commands time out here.
        self.fleet = FleetAlerts(services, self.sender.enqueue)
        self.sweeper.register(TimerPurpose.DEVICE_COMMAND, self.fleet.expire_command)
        self.sweeper.register(TimerPurpose.DEVICE_SETTLE, self.fleet.settle)
        self.sweeper.register(TimerPurpose.STORM_FOLLOWUP, self.fleet.follow_up)
        self.sweeper.register(TimerPurpose.STORM_HOLD, self.fleet.release_held)
        self.sweeper.register(TimerPurpose.FALL_WINDOW, self._fall_window_closed)
        self.sweeper.register(TimerPurpose.TAKEN_OFF, self._taken_off_too_long)
        self.summaries = ClosingSummaries(services, self.sender.enqueue)
        # Calls we place ourselves: operators' bridged calls and the callbacks by machine.
        self._call_client = self._make_twilio() if settings.twilio_configured else None
        self.calls = CallDesk(services, self._call_client, self._webhook_base())
        self.machine = AutoCallbacks(
            services, voice=self.calls.can_call and settings.auto_callback_channel == "voice"
        )
        self.sweeper.register(TimerPurpose.AUTO_CALLBACK, self.machine.run)
        self._inbox: queue.Queue[DomainEvent | None] = queue.Queue()
        self._attached = False
        self._worker: threading.Thread | None = None
        self._scheduler: BackgroundScheduler | None = None
        self._last_tick_error: str | None = None
        self._last_opened = float("-inf")  # monotonic time the worker last took an emergency
        one_writer = services.engine.dialect.name == "sqlite"
        self.open_batch = OPEN_BATCH if one_writer else OPEN_BATCH_SHARED_WRITERS

    def _make_twilio(self) -> Client:
        s = self._settings
        token = s.twilio_auth_token.get_secret_value() if s.twilio_auth_token else ""
        return make_twilio_client(s.twilio_account_sid or "", token, s.twilio_api_url)

    def _webhook_base(self) -> str | None:
        s = self._settings
        if not s.twilio_configured or s.webhook_config_error() is not None or not s.public_url:
            return None
        return f"{s.public_url.rstrip('/')}{PREFIX}"

    def app_state(self) -> dict[str, object]:
        """What the call webhooks read from `app.state`: this engine's desk and callback machine."""
        return {PLACED_CALLS: PlacedCalls(self.calls, self.machine)}

    def _taken_off_too_long(self, ctx: TimerContext, timer: Timer) -> None:
        # Not worn again in time (that would have cancelled this timer): a care case.
        open_taken_off_case(
            ctx.uow, timer.step, off_since=timer.created_at, now=ctx.now, tz=self._services.tz
        )

    def _fall_window_closed(self, ctx: TimerContext, timer: Timer) -> None:
        # No cancel came in the window: the emergency opens, and its ladder starts at once.
        open_held_fall(ctx.uow, timer, now=ctx.now, tz=self._services.tz)

    # -- lifecycle ---------------------------------------------------------------------------

    def attach(self) -> None:
        """Subscribe to the domain events the alerts follow (once)."""
        if self._attached:
            return
        for event_type in FOLLOWED:
            self._services.bus.subscribe(event_type, self._on_event)
        self._attached = True

    def detach(self) -> None:
        """Stop following the domain events; what is queued is still handled."""
        for event_type in FOLLOWED:
            self._services.bus.unsubscribe(event_type, self._on_event)
        self._attached = False

    def start(self) -> None:
        """Subscribe, start the event worker and the sender, and beat the sweep."""
        self.attach()
        self.sender.start()
        self._worker = threading.Thread(target=self._work, name="alerts-events", daemon=True)
        self._worker.start()
        self._scheduler = start_beat(self._beat, self._settings.timer_sweep_interval_s)
        self.fleet.schedule(self._scheduler)
        log.info("alerts started (sweep every %.1f s)", self._settings.timer_sweep_interval_s)

    def stop(self) -> None:
        """Stop the beat, then the workers; what is left stays as rows for the next start."""
        self.detach()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        if self._worker is not None:
            self._inbox.put(None)
            self._worker.join(STOP_JOIN_S)
            self._worker = None
        self.sender.stop()
        for close in self._closers:
            close()
        if self._call_client is not None:
            close_twilio_client(self._call_client)
        log.info("alerts stopped")

    # -- work ---------------------------------------------------------------------------------

    def _on_event(self, event: DomainEvent) -> None:
        # The publisher's thread (gateway, HTTP request): enqueue only.
        self._inbox.put_nowait(event)

    def _work(self) -> None:
        carried: list[DomainEvent | None] = []  # taken while gathering emergencies, not handled
        while True:
            event = carried.pop() if carried else self._inbox.get()
            if event is None:
                return
            if _in_memory_only(event):
                self.handle(event)
                continue
            if not _is_emergency(event):
                self._services.intake.step_aside()
                # Every other event queued now goes with it: one per step aside (up to 50 ms
                # under presses) handled 20 a second, so at 1,000 presses/s the "pressed
                # again" queued without end (heap, full collections, emergencies behind them).
                events = [event, *self._take_routine(carried)]
                with self._services.alerting.busy():  # a storm's reports wait meanwhile
                    self.handle_routine(events)
                continue
            now = time.monotonic()
            linger = LINGER_S if now - self._last_opened < LINGER_AFTER_S else 0.0
            self._last_opened = now
            opened = self._gather(event, carried, linger=linger)
            # An emergency's first alert does not wait for the intake to be calm, nor do its
            # messages: under a steady press rate it never is, and stepping aside up to 50 ms
            # a unit capped these alerts at 20 a second.
            with self.sender.urgent(), self._services.alerting.busy():
                self.handle_opened(opened)

    def handle_routine(self, events: list[DomainEvent]) -> None:
        """Handle events that are not new emergencies, in order, each after the press batch.

        Each transaction waits for the press batch being recorded, if any. After a burst
        every case is pressed again within a second: a hundred notices back to back, a
        transaction each, held the presses' acks up to 170 ms (SQLite's one writer, the
        interpreter lock). Presses again in a row now share a transaction.
        """
        for unit in routine_units(events, self.escalation.told_of_press_again):
            if isinstance(unit, PressedAgain) or not _in_memory_only(unit):
                self._services.intake.let_through()
            if isinstance(unit, PressedAgain):
                try:
                    self.escalation.notify_pressed_again_many(unit.case_ids)
                except Exception:
                    log.exception("alerts failed on presses again of %s", unit.case_ids)
                continue
            self.handle(unit)

    def _take_routine(self, carried: list[DomainEvent | None]) -> list[DomainEvent]:
        """Events queued now, up to ROUTINE_BATCH, until an emergency (or stop), carried."""
        events: list[DomainEvent] = []
        while len(events) < ROUTINE_BATCH:
            try:
                more = self._inbox.get_nowait()
            except queue.Empty:
                break
            if more is None or _is_emergency(more):
                carried.append(more)
                break
            events.append(more)
        return events

    def _gather(
        self, first: DomainEvent, carried: list[DomainEvent | None], *, linger: float = 0.0
    ) -> list[DomainEvent]:
        """`first` and the emergencies queued behind it; the event that ended them is carried.

        Gathering stops at the first other event, so each case's events keep their order;
        `linger`: how long to wait for more, at most, once none is queued.
        """
        opened = [first]
        until = time.monotonic() + linger
        while len(opened) < self.open_batch:
            try:
                left = until - time.monotonic()
                more = self._inbox.get(timeout=left) if left > 0 else self._inbox.get_nowait()
            except queue.Empty:
                break
            if more is not None and _in_memory_only(more):
                # Each batch's step 0 queues one of these per case behind the emergencies
                # opened meanwhile: stopping at them cut a backlog's batches to a few cases,
                # and on PostgreSQL a batch's round trips cost alike for 2 cases or 8.
                # It touches no database and only forgets whom a press again was told of.
                self.handle(more)
                continue
            if more is None or not _is_emergency(more):
                carried.append(more)
                break
            opened.append(more)
        return opened

    def handle_opened(self, events: Sequence[DomainEvent]) -> None:
        """Run step 0 of the ladders of cases just opened, together; a failure is logged."""
        try:
            now = self._services.clock.now()
            case_ids = [e.case_id for e in events if isinstance(e, CaseOpened)]
            # The fast path: step 0 now, by claiming the timer rows the sweep would fire.
            fired = self.sweeper.fire_many(
                case_ids=case_ids, purpose=TimerPurpose.LADDER, step=0, now=now
            )
            for case_id, scheduled in fired.items():
                if _next_rung_due(scheduled, now):
                    self._climb_empty_rungs(case_id, now)
        except Exception:
            log.exception("alerts failed on %r", events)

    def handle(self, event: DomainEvent) -> None:
        """Write the rows one event calls for; a failure is logged and the next event goes on."""
        try:
            if isinstance(event, CaseOpened):
                self.handle_opened([event])
            elif isinstance(event, CaseStateChanged):
                self.escalation.forget_pressed_again(event.case_id)
                if not is_unowned(event.to_state):
                    self.offers.withdraw(event.case_id)
                if event.to_state is CaseState.ACCEPTED:
                    # The fast path of the "taken" row the acknowledgement wrote; once fired
                    # (here or by the sweep) it never fires again, so nobody is told twice.
                    now = self._services.clock.now()
                    self.sweeper.fire(
                        case_id=event.case_id, purpose=TimerPurpose.TAKEN, step=0, now=now
                    )
                elif event.to_state is CaseState.CANCELLED and event.by != STORM_BY:
                    # A device case folded into an area incident was not a false alarm:
                    # "cancelled" would mislead whoever was told of the power loss.
                    self.escalation.notify_cancelled(event.case_id, event.by)
                elif event.to_state is CaseState.RESOLVED:
                    self.fleet.notify_back(event.case_id, event.by)
                elif event.to_state is CaseState.CLOSED:
                    self.summaries.notify_closed(event.case_id)
            elif isinstance(event, CasePressedAgain):
                self.escalation.notify_pressed_again(event.case_id)
            elif isinstance(event, CaseCheckedInLate):
                self.escalation.notify_checked_in_late(event.case_id, event.at)
            elif isinstance(event, CaseReclassified):
                # The use case stopped the old kind's timers and left step 0 of the new
                # kind's ladder due; run it now rather than on the next sweep. Its notices to
                # the people alerted so far ride on that step, or fire on their own.
                now = self._services.clock.now()
                if event.restart:
                    self.sweeper.fire(
                        case_id=event.case_id, purpose=TimerPurpose.LADDER, step=0, now=now
                    )
                self.sweeper.fire(
                    case_id=event.case_id, purpose=TimerPurpose.RECLASSIFIED, step=None, now=now
                )
            elif isinstance(event, CallRequested):
                self.calls.dial_due(self._services.clock.now())
            elif isinstance(event, VolunteersRequested):
                now = self._services.clock.now()
                self.sweeper.fire(
                    case_id=event.case_id, purpose=TimerPurpose.VOLUNTEER_RING, step=0, now=now
                )
        except Exception:
            log.exception("alerts failed on %r", event)

    def _climb_empty_rungs(self, case_id: str, now: datetime) -> None:
        # A step that found nobody to call made the next one due now: run it here rather
        # than on the next beat, so an elder with nobody to call reaches the supervisor at once.
        for _ in range(MAX_STEPS):
            scheduled: list[Scheduled] = []
            if not self.sweeper.fire(
                case_id=case_id,
                purpose=TimerPurpose.LADDER,
                step=None,
                now=now,
                due_only=True,
                scheduled=scheduled,
            ) or not _next_rung_due(scheduled, now):
                return

    def run_pending(self) -> None:
        """Handle queued events and send queued messages on this thread (tests, tools)."""
        carried: list[DomainEvent | None] = []
        while True:
            try:
                event = carried.pop() if carried else self._inbox.get_nowait()
            except queue.Empty:
                break
            if event is None:
                continue
            if _is_emergency(event):
                # Emergencies opened together start their ladders together, as on the worker.
                self.handle_opened(self._gather(event, carried))
            else:
                self.handle_routine([event, *self._take_routine(carried)])
        self.sender.drain()

    def tick(self, now: datetime | None = None) -> int:
        """One beat: fire due timers, queue due retries; returns how many timers fired."""
        now = now or self._services.clock.now()
        fired = self.sweeper.sweep_due(now)
        self.sender.enqueue_due(now)
        self.calls.dial_due(now)
        return fired

    def _beat(self) -> None:
        try:
            self._services.intake.step_aside()
            self.tick()
            self._last_tick_error = None
        except Exception as exc:
            # The database may be away for a moment; the next beat tries again.
            self._last_tick_error = f"{type(exc).__name__}: {exc}"
            log.exception("timer sweep failed")

    def health(self) -> dict[str, Any]:
        """For /healthz: raises when the engine cannot do its work, so the service reports 503."""
        running = self._scheduler is not None
        if running and not (self.sender.running and self._worker and self._worker.is_alive()):
            raise RuntimeError("an alerts thread has died")
        if self._last_tick_error is not None:
            raise RuntimeError(f"timer sweep failing: {self._last_tick_error}")
        last = self.sweeper.last_sweep_at
        return {
            "running": running,
            "twilio": self._settings.twilio_configured,
            "last_sweep_at": last.isoformat() if last else None,
            "timers_fired": self.sweeper.fired,
            "events_waiting": self._inbox.qsize(),
            "messages_waiting": self.sender.backlog,
            "messages_sent": self.sender.sent,
            "messages_failed": self.sender.failed,
        }
