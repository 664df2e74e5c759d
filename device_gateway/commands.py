"""Downlink commands: the rows the API queued, claimed one by one and sent to their terminal."""

from __future__ import annotations

import functools
import logging
import queue
import threading
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from care_api.domain.errors import InvalidInput
from care_api.domain.events import CommandRequested, DomainEvent
from care_api.domain.watch_commands import WATCH_ONLY, watch_command
from care_api.services import Services
from care_api.usecases.fleet.commands import claim_for_sending, mark_failed, pending_ids
from device_gateway.downlink import DownlinkRouter
from device_gateway.ports import Downlink
from device_gateway.protocol.errors import FrameError
from device_gateway.protocol.model import Command, CommandName
from device_gateway.transports.serial import SerialTransport
from device_gateway.transports.watch import WatchOffline, WatchTransport

log = logging.getLogger(__name__)

# Idle this long, the sender looks for commands queued by another process (an API worker
# whose event never reaches this bus) and sends those older than STALE_AFTER_S.
POLL_S = 2.0
STALE_AFTER_S = 2.0
JOIN_TIMEOUT_S = 5.0
_WAKE = -1  # not a command id: wakes the thread so `stop()` does not wait out a poll
CANNOT_CARRY = "transport cannot carry commands"
NO_WATCH = "no watch connection: not connected since the gateway started, or not a watch"


def carries_commands(downlink: Downlink) -> bool:
    """False for a transport without a command sentence (serial lines, per PROTOCOL.md).

    A transport that gains one says so with a true `carries_commands` attribute.
    """
    default = not isinstance(downlink, SerialTransport)
    return bool(getattr(downlink, "carries_commands", default))


class CommandSender:
    """Publishes each requested command on the terminal's downlink, once.

    The bus handler only enqueues the id; this class's thread claims the row (pending →
    sent, a conditional UPDATE, so two gateways never both send it) and publishes it
    through the router, which knows whether the terminal is on MQTT or a serial hub.
    """

    def __init__(self, services: Services, router: DownlinkRouter) -> None:
        self._services = services
        self._router = router
        self._queue: queue.Queue[int] = queue.Queue()
        self._running = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Subscribe to `CommandRequested` and start the sending thread."""
        self._services.bus.subscribe(CommandRequested, self._on_event)
        self._running.set()
        self._thread = threading.Thread(target=self._run, name="vnh-commands", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread; commands not yet sent stay pending for the next start."""
        self._running.clear()
        self._services.bus.unsubscribe(CommandRequested, self._on_event)
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put_nowait(_WAKE)
            thread.join(JOIN_TIMEOUT_S)
            if thread.is_alive():
                log.warning("command sender did not stop within %.0f s", JOIN_TIMEOUT_S)

    def _on_event(self, event: DomainEvent) -> None:
        # Publisher's thread, inside its commit: enqueue and return.
        if self._running.is_set() and isinstance(event, CommandRequested):
            self._queue.put_nowait(event.command_id)

    def _run(self) -> None:
        while self._running.is_set():
            try:
                command_id = self._queue.get(timeout=POLL_S)
            except queue.Empty:
                self._guarded(self._send_stale)
                continue
            if command_id != _WAKE:
                self._guarded(functools.partial(self.send, command_id))

    def _guarded(self, step: Callable[[], object]) -> None:
        try:
            step()
        except SQLAlchemyError as exc:
            # The row stays pending: the next poll (or the timeout) takes care of it.
            log.warning("command sender: database error %s", exc)
        except Exception:
            log.exception("command sender failed")

    def _send_stale(self) -> None:
        now = self._services.clock.now()
        with self._services.uow() as uow:
            ids = pending_ids(uow.session, now - timedelta(seconds=STALE_AFTER_S))
        for command_id in ids:
            self.send(command_id)

    def send(self, command_id: int) -> bool:
        """Claim and publish one command; False if it was not pending (or could not go)."""
        now = self._services.clock.now()
        with self._services.uow() as uow:
            row = claim_for_sending(uow.session, command_id, now)
            uow.commit()
        if row is None:
            return False
        downlink = self._router.downlink_for(row.device_id)
        if isinstance(downlink, WatchTransport):
            return self._send_to_watch(downlink, command_id, row.device_id, row.cmd, row.params)
        if row.cmd in WATCH_ONLY:
            self._fail(command_id, NO_WATCH)
            log.warning("command %d to %s failed: %s", command_id, row.device_id, NO_WATCH)
            return False
        if not carries_commands(downlink):
            self._fail(command_id, CANNOT_CARRY)
            log.warning("command %d to %s failed: %s", command_id, row.device_id, CANNOT_CARRY)
            return False
        try:
            command = Command(cmd=CommandName(row.cmd), id=str(command_id), params=row.params)
            downlink.send_command(row.device_id, command)
        except (FrameError, TypeError, ValueError) as exc:
            self._fail(command_id, f"cannot be sent: {exc}")
            log.warning("command %d to %s cannot be sent: %s", command_id, row.device_id, exc)
            return False
        log.info("command %d (%s) sent to %s", command_id, row.cmd, row.device_id)
        return True

    def _send_to_watch(
        self,
        watch: WatchTransport,
        command_id: int,
        device_id: str,
        cmd: str,
        params: dict[str, object],
    ) -> bool:
        region = self._services.settings.phone_region
        try:
            watch.send_watch_command(device_id, watch_command(cmd, params, region), region)
        except (InvalidInput, WatchOffline) as exc:
            # Refused at once rather than queued: the operator tries another way now.
            self._fail(command_id, str(exc))
            log.warning("command %d to watch %s failed: %s", command_id, device_id, exc)
            return False
        log.info("command %d (%s) sent to watch %s", command_id, cmd, device_id)
        return True

    def _fail(self, command_id: int, detail: str) -> None:
        with self._services.uow() as uow:
            mark_failed(uow.session, command_id, detail, self._services.clock.now())
            uow.commit()
