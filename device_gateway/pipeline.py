"""The pipeline: inbox → decode → intake (commit) → ack → settle, on worker threads."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from care_api.domain.model import DeviceReport, IntakeOutcome, IntakeStatus, ReportType
from care_api.services import Services
from care_api.usecases.fleet.commands import answer_watch_command
from care_api.usecases.fleet.positions import record_position
from care_api.usecases.fleet.presence import record_presence
from care_api.usecases.fleet.readings import record_reading
from care_api.usecases.intake.batch import record_presses
from care_api.usecases.intake.heartbeats import record_heartbeats
from care_api.usecases.intake.reports import record_device_report, source_refusal
from care_api.usecases.intake.technical import record_held_reports
from device_gateway.batching import (
    BATCH_MAX,
    ROUTINE_BATCH_MAX,
    PriorityInbox,
    Run,
    is_urgent,
    split_runs,
)
from device_gateway.downlink import DownlinkRouter
from device_gateway.mapping import to_report
from device_gateway.ports import Decoded, Inbound
from device_gateway.protocol.model import Ack, AckStatus, Heartbeat, Power, Press, WireEvent

log = logging.getLogger(__name__)

T = TypeVar("T")

# Sized well above what brokers keep in flight to us (MQTT 5 Receive Maximum 1000,
# Mosquitto's default 20), so that a full inbox means a stuck worker, not load.
INBOX_SIZE = 10_000
POLL_S = 0.2
DRAIN_S = 2.0
JOIN_MARGIN_S = 3.0
DB_RETRY_FIRST_S = 0.1
DB_RETRY_MAX_S = 10.0
BUG_ATTEMPTS = 3
BUG_RETRY_S = 0.2
# How long a batch of technical reports waits for the alerts' threads to finish their unit
# of work. A gap this long between batches lets an alert's writer take SQLite's lock; under
# alerts going out all the time a storm still moves a batch per gap (`vnh bench storm
# --storm-s 5`: 200 a second with 50 ms, when the inbox filled).
ALERTS_YIELD_MAX_S = 0.02
# Database down, locked or unreachable: wait and retry the same message, however long.
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError, PoolTimeoutError)


class _Abandoned(Exception):
    """The pipeline is stopping while the database is down: leave the message unsettled."""


class _GaveUp(Exception):
    """A non-database failure repeated: settle without an app ack; the terminal resends."""


class Pipeline:
    """Worker threads turning inbound messages into committed reports and acks.

    Any number of transports feed `offer`; each item carries its transport, which
    settles it and carries the reply back. Nothing is acked or settled before the
    report is committed, so a press is never lost, only delayed.
    """

    def __init__(
        self,
        services: Services,
        router: DownlinkRouter,
        *,
        workers: int = 1,
        inbox_size: int = INBOX_SIZE,
    ) -> None:
        self._services = services
        self._router = router
        # One inbox per worker, a device always on the same one: its events are handled
        # in the order they came (a cancel must not overtake the press it cancels), the
        # urgent ones (presses, falls, SOS) before the technical ones of a storm.
        self._inboxes: list[PriorityInbox] = [
            PriorityInbox(inbox_size) for _ in range(max(1, workers))
        ]
        self._stopping = threading.Event()
        self._drain_until = 0.0
        self._threads: list[threading.Thread] = []

    @property
    def depth(self) -> int:
        """Messages waiting in the inbox."""
        return sum(inbox.qsize() for inbox in self._inboxes)

    @property
    def workers_alive(self) -> int:
        """Worker threads running."""
        return sum(t.is_alive() for t in self._threads)

    def offer(self, item: Inbound) -> bool:
        """Take `item` for processing; False when the inbox is full. Never blocks."""
        # The topic up to the device id names the device (transports other than MQTT
        # put the device's own name there too); no parsing on the transport's thread.
        device = item.topic.rpartition("/")[0]
        try:
            self._inboxes[hash(device) % len(self._inboxes)].put_nowait(item, is_urgent(item))
        except queue.Full:
            return False
        return True

    def start(self) -> None:
        """Start the worker threads."""
        self._stopping.clear()
        self._threads = [
            threading.Thread(target=self._work, args=(inbox,), name=f"vnh-gateway-{i}", daemon=True)
            for i, inbox in enumerate(self._inboxes)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, drain_s: float = DRAIN_S) -> None:
        """Finish what is in the inbox for up to `drain_s`, then stop the workers.

        Whatever is left stays unsettled: the broker delivers it again next session.
        """
        self._drain_until = time.monotonic() + drain_s
        self._stopping.set()
        for thread in self._threads:
            thread.join(drain_s + JOIN_MARGIN_S)
            if thread.is_alive():
                log.warning("gateway worker %s did not stop in time", thread.name)
        self._threads = []
        if self.depth:
            log.info("gateway stopped with %d messages unsettled for redelivery", self.depth)

    def _work(self, inbox: PriorityInbox) -> None:
        while not self._done(inbox):
            try:
                first, urgent = inbox.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if urgent:
                self._work_urgent(inbox, first)
            else:
                # Technical reports come last, after the alerts too: on SQLite every batch
                # holds the one write lock, and a storm's back-to-back batches would starve
                # the alert of a press (its writers sleep and retry on a busy database).
                self._services.alerting.step_aside(ALERTS_YIELD_MAX_S)
                self._work_batch([first, *inbox.take(False, ROUTINE_BATCH_MAX - 1)], inbox)

    def _work_urgent(self, inbox: PriorityInbox, first: Inbound | None = None) -> None:
        # Busy until no urgent item is left: the alerts' threads wait meanwhile. Technical
        # events do not make them wait: a storm must not hold back a press's alerts.
        with self._services.intake.busy():
            batch = [first] if first is not None else []
            while True:
                batch += inbox.take(True, BATCH_MAX - len(batch))
                if not batch:
                    return
                self._work_batch(batch)
                batch = []
                if self._done(inbox):
                    return

    def _done(self, inbox: PriorityInbox) -> bool:
        return self._stopping.is_set() and (inbox.empty() or time.monotonic() > self._drain_until)

    def _work_batch(self, batch: list[Inbound], inbox: PriorityInbox | None = None) -> None:
        """Record `batch`; with `inbox` (a routine batch), urgent items go first between parts."""
        for part in split_runs(self._decode_all(batch)):
            if inbox is not None and inbox.urgent_waiting:
                self._work_urgent(inbox)
            items = part.items if isinstance(part, Run) else [part[0]]
            try:
                if isinstance(part, Run) and part.type is Power:
                    self._record_power_run(part, inbox)
                elif isinstance(part, Run):
                    self._record_run(part)
                else:
                    self._record(*part)
            except Exception:
                # A bug: full traceback, settle so the broker window does not clog; a
                # terminal without its app ack resends anyway.
                log.exception("pipeline failed on %s", items[0].topic)
                for item in items:
                    self._settle_quietly(item)

    def _decode_all(self, batch: list[Inbound]) -> list[tuple[Inbound, Decoded]]:
        # Each transport decodes its own messages and answers what it refuses, in its own
        # protocol; from here on every transport takes the same path.
        now = self._services.clock.now()
        decoded: list[tuple[Inbound, Decoded]] = []
        for item in batch:
            try:
                asks = item.transport.decode(item, now)
            except Exception:
                log.exception("decoding failed on %s", item.topic)
                self._settle_quietly(item)
                continue
            if asks is not None:
                decoded.append((item, asks))
        return decoded

    def handle(self, item: Inbound) -> None:
        """Process one inbound message to its end (ack and settle, or leave unsettled)."""
        asks = item.transport.decode(item, self._services.clock.now())
        if asks is not None:
            self._record(item, asks)

    def _record(self, item: Inbound, asks: Decoded) -> None:
        if asks.online is not None:
            self._presence(asks.device_id, asks.online, item)
            return
        if asks.reading is not None or asks.answer is not None:
            self._record_aside(item, asks)
            return
        if asks.says_where or asks.event is None:
            # The position first: whoever opens the case sees where the elder is. A terminal
            # that may not report is answered here, before its event is looked at.
            try:
                reason = self._persist(
                    lambda: self._where(item, asks), what=f"source check of {asks.device_id}"
                )
            except (_Abandoned, _GaveUp):
                return  # no answer: the terminal resends (an alarm), or says it again
            if reason is None:
                self._router.note(asks.device_id, item.transport)  # commands go back this way
            if reason is not None or asks.event is None:
                item.transport.answer(item, refused=reason)
                return
        self._record_event(asks.event, item, fall_window_s=asks.fall_window_s)

    def _where(self, item: Inbound, asks: Decoded) -> str | None:
        """Keep what the message says of where the terminal is; why it may not report."""
        source = item.transport.source
        if not asks.says_where:
            return source_refusal(self._services.uow, asks.device_id, source)
        services = self._services
        return record_position(
            services.uow,
            asks.device_id,
            source,
            asks.position,
            now=services.clock.now(),
            tz=services.tz,
            watch_says_left=asks.left_fence,
            taken_off_at=asks.taken_off_at,
            worn=asks.worn,
            taken_off_case_s=services.settings.watch_taken_off_case_s,
            language=services.settings.language,
        )

    def _record_aside(self, item: Inbound, asks: Decoded) -> None:
        # A measurement goes on the elder's record, an answer settles its command: neither
        # opens anything. The terminal is answered once it is kept (or refused).
        uow_factory, device_id, source = self._services.uow, asks.device_id, item.transport.source
        now = self._services.clock.now()

        def keep() -> str | None:
            if asks.reading is not None:
                values = asks.reading.values
                return record_reading(
                    uow_factory,
                    device_id,
                    source,
                    keyword=asks.reading.keyword,
                    heart_rate=values.heart_rate,
                    systolic=values.systolic,
                    diastolic=values.diastolic,
                    temperature_c=values.temperature_c,
                    now=now,
                )
            reason = source_refusal(uow_factory, device_id, source)
            if reason is None and asks.answer is not None:
                with uow_factory() as uow:
                    answer = asks.answer
                    answer_watch_command(
                        uow.session, device_id, answer.commands, answer.detail, now
                    )
                    uow.commit()
            return reason

        try:
            reason = self._persist(keep, what=f"reading or answer of {device_id}")
        except (_Abandoned, _GaveUp):
            return
        item.transport.answer(item, refused=reason)

    def _record_event(
        self, event: WireEvent, item: Inbound, *, fall_window_s: int | None = None
    ) -> None:
        transport = item.transport
        if fall_window_s is None:
            fall_window_s = self._services.settings.fall_cancel_window_s
        report = to_report(event, source=transport.source)
        self._router.note(event.device_id, transport)
        now = self._services.clock.now()
        try:
            outcome = self._persist(
                lambda: record_device_report(
                    self._services.uow,
                    report,
                    now=now,
                    tz=self._services.tz,
                    heartbeats=self._services.heartbeats,
                    fall_window_s=fall_window_s,
                ),
                what=f"{report.type} {report.key}",
            )
        except _Abandoned:
            log.info("stopping: %s left unacked for redelivery", report.key)
            return
        except _GaveUp:
            transport.settle(item.receipt)  # no app ack: the terminal resends it
            return
        transport.send_ack(event.device_id, _ack(event, outcome), urgent=is_urgent(item))
        _log_outcome(report, outcome)
        transport.settle(item.receipt)

    def _record_run(self, run: Run) -> None:
        """Record a run in one go, then ack and settle each message (as `_record_event`)."""
        reports = [to_report(event, source=item.transport.source) for event, item in run.events]
        for event, item in run.events:
            self._router.note(event.device_id, item.transport)
        now = self._services.clock.now()
        services = self._services

        def record() -> list[IntakeOutcome]:
            if run.type is Heartbeat:
                return record_heartbeats(
                    services.uow, reports, services.heartbeats, now=now, tz=services.tz
                )
            return record_presses(services.uow, reports, now=now, tz=services.tz)

        try:
            outcomes = self._persist(record, what=f"{len(reports)} {reports[0].type}s")
        except _Abandoned:
            log.info("stopping: %d events left unacked for redelivery", len(reports))
            return
        except _GaveUp:
            for item in run.items:
                item.transport.settle(item.receipt)  # no app ack: the terminals resend
            return
        urgent = run.type is Press  # its acks go ahead of a storm's still waiting to go out
        # Every ack first, then the settles, then the log: the last press of a batch of 50
        # waited for 49 log lines and broker acks before its own ack was queued.
        for (event, item), outcome in zip(run.events, outcomes, strict=True):
            item.transport.send_ack(event.device_id, _ack(event, outcome), urgent=urgent)
        for item in run.items:
            item.transport.settle(item.receipt)
        for report, outcome in zip(reports, outcomes, strict=True):
            _log_outcome(report, outcome)

    def _record_power_run(self, run: Run, inbox: PriorityInbox | None) -> None:
        """Power reports: a storm's in one transaction, the rest alone.

        A storm's thousands of `power lost` join their incident a batch at a time, and
        their `power restored` are counted back the same way; the reports the batch path
        leaves (no incident yet, a device case to settle, …) are recorded one by one as
        before, urgent work going first between them.
        """
        reports = [to_report(event, source=item.transport.source) for event, item in run.events]
        for event, item in run.events:
            self._router.note(event.device_id, item.transport)
        now = self._services.clock.now()
        try:
            outcomes = self._persist(
                lambda: record_held_reports(self._services.uow, reports, now=now),
                what=f"{len(reports)} power reports",
            )
        except _Abandoned:
            log.info("stopping: %d events left unacked for redelivery", len(reports))
            return
        except _GaveUp:
            outcomes = [None] * len(reports)  # each alone, with its own retries
        if inbox is not None and inbox.urgent_waiting:
            self._work_urgent(inbox)  # a press came meanwhile: its ack before the storm's
        for (event, item), report, outcome in zip(run.events, reports, outcomes, strict=True):
            if outcome is not None:
                item.transport.send_ack(event.device_id, _ack(event, outcome))
                _log_outcome(report, outcome)
                item.transport.settle(item.receipt)
        for (event, item), outcome in zip(run.events, outcomes, strict=True):
            if outcome is None:
                if inbox is not None and inbox.urgent_waiting:
                    self._work_urgent(inbox)
                self._record_event(event, item)

    def _presence(self, device_id: str, online: bool, item: Inbound) -> None:
        now = self._services.clock.now()
        try:
            self._persist(
                lambda: record_presence(
                    self._services.uow, device_id, online, now, seen=not item.retained
                ),
                what=f"presence of {device_id}",
            )
        except _Abandoned:
            return
        except _GaveUp:
            pass
        log.debug("device %s is %s", device_id, "online" if online else "offline")
        item.transport.settle(item.receipt)

    def _persist(self, action: Callable[[], T], *, what: str) -> T:
        """Run `action` until it commits.

        A database that is down or locked is waited out, however long: the message is
        neither acked nor settled meanwhile, so it is never lost. Any other failure is a
        bug; after BUG_ATTEMPTS it gives up and the caller settles without an app ack.
        Answering "rejected" instead would make the terminal stop resending: a lost press.
        """
        db_failures = bug_failures = 0
        while True:
            try:
                return action()
            except TRANSIENT_DB_ERRORS as exc:
                db_failures += 1
                delay = min(DB_RETRY_MAX_S, DB_RETRY_FIRST_S * 2 ** min(db_failures - 1, 10))
                log.warning(
                    "database unavailable for %s (attempt %d), retrying in %.1f s: %s",
                    what,
                    db_failures,
                    delay,
                    exc,
                )
            except Exception:
                bug_failures += 1
                if bug_failures >= BUG_ATTEMPTS:
                    log.exception(
                        "%s failed %d times; left for the terminal to resend", what, bug_failures
                    )
                    raise _GaveUp from None
                delay = BUG_RETRY_S
                log.warning("%s failed (attempt %d), retrying", what, bug_failures, exc_info=True)
            if self._stopping.wait(delay):
                raise _Abandoned

    @staticmethod
    def _settle_quietly(item: Inbound) -> None:
        try:
            item.transport.settle(item.receipt)
        except Exception:
            log.exception("settling %s failed", item.topic)


def _ack(event: WireEvent, outcome: IntakeOutcome) -> Ack:
    return Ack(
        device_id=event.device_id,
        boot=event.boot,
        seq=event.seq,
        status=AckStatus(outcome.status.value),
        case=outcome.case_id,
        reason=outcome.reason,
    )


def _log_outcome(report: DeviceReport, outcome: IntakeOutcome) -> None:
    key = report.key
    if outcome.status is IntakeStatus.REJECTED:
        log.warning(
            "%s rejected device=%s boot=%d seq=%d reason=%s",
            report.type,
            key.device_id,
            key.boot,
            key.seq,
            outcome.reason,
        )
    elif report.type is ReportType.PRESS:
        log.info(
            "press %s device=%s boot=%d seq=%d case=%s kind=%s",
            outcome.status,
            key.device_id,
            key.boot,
            key.seq,
            outcome.case_id,
            outcome.kind,
        )
    else:
        log.debug(
            "%s %s device=%s boot=%d seq=%d case=%s",
            report.type,
            outcome.status,
            key.device_id,
            key.boot,
            key.seq,
            outcome.case_id,
        )
