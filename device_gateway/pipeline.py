"""The pipeline: inbox → decode → intake (commit) → ack → settle, on worker threads."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import datetime
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
from device_gateway.batching import Run, split_runs, take_batch
from device_gateway.downlink import DownlinkRouter
from device_gateway.mapping import to_position, to_report
from device_gateway.ports import Inbound
from device_gateway.protocol.dc09_codec import Dc09Error
from device_gateway.protocol.errors import FrameError
from device_gateway.protocol.json_codec import decode_uplink
from device_gateway.protocol.model import Ack, AckStatus, Heartbeat, Nak, WireEvent
from device_gateway.protocol.topics import STATUS_LEAF, UP_LEAF, parse_topic
from device_gateway.protocol.watch_codec import (
    ALARM_KEYWORD,
    ANSWERED_COMMANDS,
    HEALTH_KEYWORDS,
    WatchAlarm,
    WatchFrame,
    WatchFrameError,
    decode_health,
)
from device_gateway.transports.dc09 import Dc09Transport, device_id_for
from device_gateway.transports.serial import SerialTransport
from device_gateway.transports.watch import WatchTransport

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
# Database down, locked or unreachable: wait and retry the same message, however long.
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError, PoolTimeoutError)
PRESENCE = {"online": True, "offline": False}


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
        # in the order they came (a cancel must not overtake the press it cancels).
        self._inboxes: list[queue.Queue[Inbound]] = [
            queue.Queue(maxsize=inbox_size) for _ in range(max(1, workers))
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
            self._inboxes[hash(device) % len(self._inboxes)].put_nowait(item)
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

    def _work(self, inbox: queue.Queue[Inbound]) -> None:
        while not self._done(inbox):
            try:
                first: Inbound | None = inbox.get(timeout=POLL_S)
            except queue.Empty:
                continue
            # Busy until the inbox is empty: the alerts' threads wait meanwhile.
            with self._services.intake.busy():
                while first is not None:
                    self._work_batch(take_batch(inbox, first))
                    first = None if self._done(inbox) else _next_or_none(inbox)

    def _done(self, inbox: queue.Queue[Inbound]) -> bool:
        return self._stopping.is_set() and (inbox.empty() or time.monotonic() > self._drain_until)

    def _work_batch(self, batch: list[Inbound]) -> None:
        for part in split_runs(batch):
            items = part.items if isinstance(part, Run) else [part]
            try:
                if isinstance(part, Run):
                    self._record_run(part)
                else:
                    self.handle(part)
            except Exception:
                # A bug: full traceback, settle so the broker window does not clog; a
                # terminal without its app ack resends anyway.
                log.exception("pipeline failed on %s", items[0].topic)
                for item in items:
                    self._settle_quietly(item)

    def handle(self, item: Inbound) -> None:
        """Process one inbound message to its end (ack and settle, or leave unsettled)."""
        if isinstance(item.transport, SerialTransport):
            self._serial_line(item.transport, item)
            return
        if isinstance(item.transport, Dc09Transport):
            self._dc09_frame(item.transport, item)
            return
        if isinstance(item.transport, WatchTransport):
            self._watch_frame(item.transport, item)
            return
        parsed = parse_topic(item.topic)
        if parsed is None:
            log.warning("message on unexpected topic %r dropped", item.topic)
            item.transport.settle(item.receipt)
            return
        device_id, leaf = parsed
        if leaf == UP_LEAF:
            self._uplink(device_id, item)
        elif leaf == STATUS_LEAF:
            self._presence(device_id, item)
        else:
            log.warning("message on %r dropped: not a topic the gateway reads", item.topic)
            item.transport.settle(item.receipt)

    def _uplink(self, device_id: str, item: Inbound) -> None:
        try:
            event = decode_uplink(device_id, item.payload)
        except FrameError as exc:
            log.warning(
                "rejected frame device=%s via %s: %s", device_id, item.transport.source, exc
            )
            item.transport.send_ack(device_id, Ack.rejecting(device_id, exc))
            item.transport.settle(item.receipt)
            return
        self._record_event(event, item)

    def _serial_line(self, transport: SerialTransport, item: Inbound) -> None:
        # Same path as MQTT once decoded; a line that does not decode is answered $NAK.
        try:
            event = transport.decode(item)
        except FrameError as exc:
            log.warning("NAK on %s: %s", transport.source, exc)
            transport.send_nak(Nak.from_error(exc))
            return
        if event is not None:
            self._record_event(event, item)

    def _dc09_frame(self, transport: Dc09Transport, item: Inbound) -> None:
        # Same path again once decoded; the ACK goes out after intake commits.
        now = self._services.clock.now()
        try:
            message, event = transport.decode(item, now)
        except Dc09Error as exc:
            log.warning("%s on %s: %s", exc.answer, transport.source, exc)
            transport.refuse(item, exc, now)
            return
        if event is not None:
            self._record_event(event, item)
            return
        # Nothing to record (an event the service does not act on): ACK it if the panel
        # may report at all, else DUH, as intake would answer its other messages.
        device_id = device_id_for(message.account)
        try:
            reason = self._persist(
                lambda: source_refusal(self._services.uow, device_id, transport.source),
                what=f"source check of {device_id}",
            )
        except (_Abandoned, _GaveUp):
            return  # no answer: the panel resends
        transport.answer(item, message, refused=reason)

    def _watch_frame(self, transport: WatchTransport, item: Inbound) -> None:
        # Same path again once decoded; `LK` and `AL` are answered after intake commits.
        now = self._services.clock.now()
        try:
            frame, position, event = transport.decode(item, now)
        except WatchFrameError as exc:
            log.warning("bad frame on %s: %s", transport.source, exc)  # no answer, no case
            return
        if frame.keyword in HEALTH_KEYWORDS:
            self._watch_reading(transport, item, frame, now)
            return
        if frame.keyword in ANSWERED_COMMANDS:
            self._watch_answer(transport, item, frame, now)
            return
        if position is not None or event is None:
            # The position first: whoever opens the case sees where the elder is. A watch
            # that may not report is cut off here, before its alarm is looked at.
            where = to_position(position, now) if position is not None else None
            left = position is not None and WatchAlarm.LEFT_FENCE in position.alarms
            # Only the alarm counts: positions repeat the bit for as long as it is off.
            taken_off = (
                (position.at or now)
                if position is not None
                and frame.keyword == ALARM_KEYWORD
                and WatchAlarm.TAKEN_OFF in position.alarms
                else None
            )
            try:
                reason = self._persist(
                    lambda: record_position(
                        self._services.uow,
                        frame.watch_id,
                        transport.source,
                        where,
                        now=now,
                        tz=self._services.tz,
                        watch_says_left=left,
                        taken_off_at=taken_off,
                        language=self._services.settings.language,
                    ),
                    what=f"position of {frame.watch_id}",
                )
            except (_Abandoned, _GaveUp):
                return  # no answer: an alarm is resent, a position comes again
            if reason is None:
                self._router.note(frame.watch_id, transport)  # commands go back this way
            if reason is not None or event is None:
                transport.answer(item, refused=reason)
                return
        # The watch counted its own cancel window before it raised the fall alarm.
        self._record_event(event, item, fall_window_s=0)

    def _watch_reading(
        self, transport: WatchTransport, item: Inbound, frame: WatchFrame, now: datetime
    ) -> None:
        # A measurement goes on the elder's record and opens nothing.
        try:
            values = decode_health(frame)
        except WatchFrameError as exc:
            log.warning("bad health frame on %s: %s", transport.source, exc)
            return
        try:
            reason = self._persist(
                lambda: record_reading(
                    self._services.uow,
                    frame.watch_id,
                    transport.source,
                    keyword=frame.keyword,
                    heart_rate=values.heart_rate,
                    systolic=values.systolic,
                    diastolic=values.diastolic,
                    temperature_c=values.temperature_c,
                    now=now,
                ),
                what=f"{frame.keyword} reading of {frame.watch_id}",
            )
        except (_Abandoned, _GaveUp):
            return
        transport.answer(item, refused=reason)

    def _watch_answer(
        self, transport: WatchTransport, item: Inbound, frame: WatchFrame, now: datetime
    ) -> None:
        # The watch answers a command with its keyword: settle the command it answers.
        uow_factory, device_id = self._services.uow, frame.watch_id
        detail = ",".join((frame.keyword, *frame.fields))

        def settle() -> str | None:
            reason = source_refusal(uow_factory, device_id, transport.source)
            if reason is None:
                with uow_factory() as uow:
                    cmds = ANSWERED_COMMANDS[frame.keyword]
                    answer_watch_command(uow.session, device_id, cmds, detail, now)
                    uow.commit()
            return reason

        try:
            reason = self._persist(settle, what=f"{frame.keyword} answer of {device_id}")
        except (_Abandoned, _GaveUp):
            return
        transport.answer(item, refused=reason)

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
        transport.send_ack(event.device_id, _ack(event, outcome))
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
        for (event, item), report, outcome in zip(run.events, reports, outcomes, strict=True):
            item.transport.send_ack(event.device_id, _ack(event, outcome))
            _log_outcome(report, outcome)
            item.transport.settle(item.receipt)

    def _presence(self, device_id: str, item: Inbound) -> None:
        text = item.payload.decode("utf-8", "replace").strip()
        if text not in PRESENCE:
            if text:  # empty: a retained flag being cleared
                log.warning("status of %s not online/offline: %r", device_id, text[:32])
            item.transport.settle(item.receipt)
            return
        now = self._services.clock.now()
        try:
            self._persist(
                lambda: record_presence(
                    self._services.uow, device_id, PRESENCE[text], now, seen=not item.retained
                ),
                what=f"presence of {device_id}",
            )
        except _Abandoned:
            return
        except _GaveUp:
            pass
        log.debug("device %s is %s", device_id, text)
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


def _next_or_none(inbox: queue.Queue[Inbound]) -> Inbound | None:
    try:
        return inbox.get_nowait()
    except queue.Empty:
        return None


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
