"""Domain events, and the in-process bus that delivers them after commit."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from care_api.domain.model import CaseKind, CaseState

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CaseOpened:
    """A new case exists; the ladder's first step is due."""

    case_id: str
    kind: CaseKind
    elder_id: int
    device_id: str | None


@dataclass(frozen=True, slots=True)
class CaseStateChanged:
    """A case moved; `by` says who moved it."""

    case_id: str
    from_state: CaseState
    to_state: CaseState
    by: str
    device_id: str | None


@dataclass(frozen=True, slots=True)
class CasePressedAgain:
    """The elder pressed again while the case was still active; `state` is the case's now."""

    case_id: str
    device_id: str | None
    state: CaseState


@dataclass(frozen=True, slots=True)
class CaseNobodyTook:
    """No merchant was left to take the case's service order: the centre calls the elder back."""

    case_id: str
    device_id: str | None


@dataclass(frozen=True, slots=True)
class CaseCheckedInLate:
    """The elder checked in after their window was missed; the case waits for an operator."""

    case_id: str
    device_id: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class CaseReclassified:
    """An operator gave the case another kind; an unowned case climbs the new kind's ladder."""

    case_id: str
    from_kind: CaseKind
    to_kind: CaseKind
    by: str
    restart: bool  # True when the new kind's step 0 is due now (nobody owns the case)


@dataclass(frozen=True, slots=True)
class VolunteersRequested:
    """Staff asked for the care case to be offered to volunteers; ring 0 is due now."""

    case_id: str
    by: str


@dataclass(frozen=True, slots=True)
class TimerDue:
    """A timer row fell due; whoever handles its purpose claims it."""

    timer_id: int
    purpose: str


@dataclass(frozen=True, slots=True)
class CommandRequested:
    """Someone asked for a downlink command; the gateway sends it to the terminal."""

    command_id: int
    device_id: str


@dataclass(frozen=True, slots=True)
class DeviceLoginRevoked:
    """A terminal's secret was rotated or the terminal retired: its broker sessions must end."""

    device_id: str


@dataclass(frozen=True, slots=True)
class CallRequested:
    """An operator asked for a bridged call from a case; the alerts place it at once."""

    case_id: str
    call_id: int


@dataclass(frozen=True, slots=True)
class CallMissed:
    """A call to the centre no operator answered: on the board at once, called back in 5 min."""

    call_id: int
    phone: str
    case_id: str | None


DomainEvent = (
    CaseOpened
    | CaseStateChanged
    | CasePressedAgain
    | CaseNobodyTook
    | CaseCheckedInLate
    | CaseReclassified
    | VolunteersRequested
    | TimerDue
    | CommandRequested
    | DeviceLoginRevoked
    | CallRequested
    | CallMissed
)
Handler = Callable[[DomainEvent], None]


class EventBus:
    """Synchronous fan-out of committed domain events to subscribers.

    Handlers run on the publisher's thread, so they must only hand work off (enqueue);
    a failing handler is logged and never stops the others or the publisher.
    """

    def __init__(self) -> None:
        self._handlers: defaultdict[type, list[Handler]] = defaultdict(list)
        self._lock = threading.Lock()

    def subscribe(self, event_type: type, handler: Handler) -> None:
        """Call `handler` for every published event of `event_type`."""
        with self._lock:
            self._handlers[event_type].append(handler)

    def unsubscribe(self, event_type: type, handler: Handler) -> None:
        """Stop calling `handler` for `event_type`; unknown pairs are ignored."""
        with self._lock:
            handlers = self._handlers[event_type]
            if handler in handlers:
                handlers.remove(handler)

    def publish(self, event: DomainEvent) -> None:
        """Deliver `event` to its subscribers."""
        with self._lock:
            handlers = list(self._handlers[type(event)])
        for handler in handlers:
            try:
                handler(event)
            except Exception:
                log.exception("event handler %r failed on %r", handler, event)
