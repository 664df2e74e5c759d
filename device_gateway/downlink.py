"""Case news for the terminals, and which transport reaches each terminal."""

from __future__ import annotations

import logging
import queue
import threading

from sqlmodel import Session, col, select

from care_api.domain.cases import NO_TAKER_SAY, news_say
from care_api.domain.events import (
    CaseNobodyTook,
    CaseOpened,
    CasePressedAgain,
    CaseStateChanged,
    DomainEvent,
)
from care_api.domain.model import CaseKind, CaseState
from care_api.i18n import t
from care_api.services import Services
from care_api.store.arrays import Pair, one_of
from care_api.store.tables import Case, Elder
from care_api.store.uow import outside_transaction
from care_api.usecases.people.languages import language_of_person
from device_gateway.ports import Downlink
from device_gateway.protocol.model import CaseNews

log = logging.getLogger(__name__)

POLL_S = 0.2
# News events handled in one session; more wait for the next round.
NEWS_BATCH_MAX = 200
JOIN_TIMEOUT_S = 5.0
NEWS_EVENTS: tuple[type, ...] = (CaseOpened, CaseStateChanged, CasePressedAgain, CaseNobodyTook)

# The cases of a round of news and their elders: one SQL text whatever their number (a
# round of news at 1,000 presses/s holds 1-100 cases; an `IN` list was a text each).
_CASES = Pair(lambda pg: select(Case).where(one_of(col(Case.id), "ids", postgres=pg)))
_ELDERS = Pair(lambda pg: select(Elder).where(one_of(col(Elder.id), "ids", postgres=pg)))


class DownlinkRouter:
    """Remembers which transport each terminal last spoke through; MQTT otherwise.

    A terminal behind a serial hub must get its news on that hub's line, not on a topic
    nobody reads. The pipeline calls `note` for every event it takes.
    """

    def __init__(self, default: Downlink) -> None:
        self._default = default
        self._routes: dict[str, Downlink] = {}
        self._lock = threading.Lock()

    def note(self, device_id: str, downlink: Downlink) -> None:
        """Route later downlinks for `device_id` through `downlink`."""
        with self._lock:
            self._routes[device_id] = downlink

    def downlink_for(self, device_id: str) -> Downlink:
        """The downlink that reaches `device_id`."""
        with self._lock:
            return self._routes.get(device_id, self._default)


class CaseNewsSender:
    """Tells a terminal what became of its case (light or voice prompt).

    Bus handlers run on whichever thread committed (a pipeline worker, an HTTP request),
    so they only enqueue; this class's own thread looks things up and publishes.
    """

    def __init__(self, services: Services, router: DownlinkRouter) -> None:
        self._services = services
        self._router = router
        self._queue: queue.Queue[DomainEvent] = queue.Queue()
        self._running = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Subscribe to the case events and start the sending thread."""
        for event_type in NEWS_EVENTS:
            self._services.bus.subscribe(event_type, self._on_event)
        self._running.set()
        self._thread = threading.Thread(target=self._run, name="vnh-case-news", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread; news still queued is sent first if it can be in time."""
        self._running.clear()
        for event_type in NEWS_EVENTS:
            self._services.bus.unsubscribe(event_type, self._on_event)
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(JOIN_TIMEOUT_S)
            if thread.is_alive():
                log.warning("case news thread did not stop within %.0f s", JOIN_TIMEOUT_S)

    def _on_event(self, event: DomainEvent) -> None:
        # Publisher's thread, inside its commit: enqueue and return.
        if self._running.is_set() and getattr(event, "device_id", None):
            self._queue.put_nowait(event)

    def _run(self) -> None:
        while self._running.is_set() or not self._queue.empty():
            try:
                event = self._queue.get(timeout=POLL_S)
            except queue.Empty:
                continue
            # The acks of a burst go out first; its news follows once the burst is over.
            self._services.intake.step_aside()
            self._send_all([event, *self._take_waiting()])

    def _take_waiting(self) -> list[DomainEvent]:
        events: list[DomainEvent] = []
        while len(events) < NEWS_BATCH_MAX - 1:
            try:
                events.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return events

    def _send_all(self, events: list[DomainEvent]) -> None:
        """Send each event's news, in order, from one session: one look-up per table.

        At 1,000 presses/s every press again is news: a session and two look-ups each
        cost about as much as recording the press.
        """
        try:
            with self._services.uow() as uow:
                outside_transaction(uow.session)  # reads only: no BEGIN and ROLLBACK to wait for
                # Held until the end: the session only keeps weak references to its rows.
                loaded = _load_cases(uow.session, events) if len(events) > 1 else []
                for event in events:
                    try:
                        self._send(uow.session, event)
                    except Exception:
                        # News is a courtesy; the terminal has its ack. Skip, do not stall.
                        log.exception("case news for %r failed", event)
                del loaded
        except Exception:
            log.exception("case news for %d events failed", len(events))

    def _send(self, session: Session, event: DomainEvent) -> None:
        state: CaseState | None
        match event:
            case CaseOpened():
                case_id, device_id, state = event.case_id, event.device_id, CaseState.OPEN
            case CaseStateChanged():
                case_id, device_id, state = event.case_id, event.device_id, event.to_state
            case CasePressedAgain():
                case_id, device_id, state = event.case_id, event.device_id, event.state
            case CaseNobodyTook():
                case_id, device_id, state = event.case_id, event.device_id, None
            case _:
                return
        if device_id is None:
            return
        case = session.get(Case, case_id)  # loaded by `_load_cases`: no statement
        if case is None:
            return
        kind, owner = case.kind, case.owner
        state = state if state is not None else case.state
        # The terminal speaks to its elder: in the elder's language, else the centre's.
        language = language_of_person(
            session, f"elder:{case.elder_id}", centre=self._services.settings.language
        )
        # What the elder hears follows what a person did; a device case tells them nothing.
        if kind is CaseKind.DEVICE:
            return
        said = NO_TAKER_SAY if isinstance(event, CaseNobodyTook) else news_say(kind, state, owner)
        say = t(language, said) if said is not None else None
        news = CaseNews(case=case_id, state=state.value, say=say)
        self._router.downlink_for(device_id).send_news(device_id, news)
        log.debug("case news device=%s case=%s state=%s", device_id, case_id, state)


def _load_cases(session: Session, events: list[DomainEvent]) -> list[Case | Elder]:
    """Load the cases of `events` and their elders into `session` in two statements.

    `session.get` then finds them without a statement, as long as the caller holds them.
    """
    case_ids = {case_id for e in events if (case_id := getattr(e, "case_id", None))}
    if not case_ids:
        return []
    cases = session.exec(_CASES.on(session), params={"ids": sorted(case_ids)}).all()
    elder_ids = sorted({c.elder_id for c in cases if c.elder_id is not None})
    elders = session.exec(_ELDERS.on(session), params={"ids": elder_ids}).all()
    return [*cases, *elders]
