"""Live case news for the console: bus events fanned out to per-client queues as SSE frames."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import deque
from collections.abc import AsyncGenerator

from care_api.domain.events import (
    CallMissed,
    CaseCheckedInLate,
    CaseOpened,
    CasePressedAgain,
    CaseReclassified,
    CaseStateChanged,
    DomainEvent,
    EventBus,
    VolunteersRequested,
)

_NEWS = (
    CaseOpened,
    CaseStateChanged,
    CasePressedAgain,
    CaseCheckedInLate,
    CaseReclassified,
    VolunteersRequested,
    CallMissed,
)

log = logging.getLogger(__name__)

# An operator's browser takes a few frames a second at peak; 256 is minutes of backlog.
CLIENT_QUEUE_SIZE = 256
# Proxies and load balancers drop a silent connection after 30–60 s.
HEARTBEAT_S = 15.0
# How long the browser waits before reconnecting after the stream drops.
RETRY_MS = 2000

RESYNC_FRAME = "event: resync\ndata: {}\n\n"
HEARTBEAT_FRAME = ": heartbeat\n\n"


def sse_frame(event: str, data: dict[str, object]) -> str:
    """One server-sent event; JSON never holds a raw newline, so `data` is one line."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def case_news(event: DomainEvent) -> dict[str, object] | None:
    """What the console is told of a domain event, or None for events it does not show."""
    if isinstance(event, CaseOpened):
        return {"case_id": event.case_id, "change": "opened", "kind": str(event.kind)}
    if isinstance(event, CaseStateChanged):
        return {
            "case_id": event.case_id,
            "change": "state",
            "from": str(event.from_state),
            "to": str(event.to_state),
            "by": event.by,
        }
    if isinstance(event, CasePressedAgain):
        return {"case_id": event.case_id, "change": "pressed_again"}
    if isinstance(event, CaseCheckedInLate):
        return {"case_id": event.case_id, "change": "checked_in_late"}
    if isinstance(event, CaseReclassified):
        return {
            "case_id": event.case_id,
            "change": "reclassified",
            "from": str(event.from_kind),
            "kind": str(event.to_kind),
            "by": event.by,
        }
    if isinstance(event, CallMissed):
        # The board reloads its missed calls at once instead of at its next poll.
        return {"case_id": event.case_id or "", "change": "missed_call", "call_id": event.call_id}
    if isinstance(event, VolunteersRequested):
        return {"case_id": event.case_id, "change": "offers_requested", "by": event.by}
    return None


class StreamClient:
    """One browser's bounded queue; filled from any thread, drained on the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self._loop = loop
        self._size = size
        self._frames: deque[str] = deque()
        self._lock = threading.Lock()
        self._resync = False
        self.closed = False
        self.wake = asyncio.Event()

    def offer(self, frame: str) -> None:
        """Queue `frame` without blocking; when full, drop the oldest and ask for a resync."""
        with self._lock:
            if len(self._frames) >= self._size:
                self._frames.popleft()
                self._resync = True
            self._frames.append(frame)
        self._poke()

    def close(self) -> None:
        """Make the client's stream end after what it already has."""
        self.closed = True
        self._poke()

    def take(self) -> list[str]:
        """Everything queued, a resync frame first if frames were dropped since last time."""
        with self._lock:
            frames = list(self._frames)
            self._frames.clear()
            resync, self._resync = self._resync, False
        return [RESYNC_FRAME, *frames] if resync else frames

    def _poke(self) -> None:
        try:
            self._loop.call_soon_threadsafe(self.wake.set)
        except RuntimeError:
            # The loop has shut down; nobody is left to read this client.
            self.closed = True


class CaseStream:
    """Fans case events from the bus out to every connected console."""

    def __init__(self, bus: EventBus, *, queue_size: int = CLIENT_QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        self._clients: set[StreamClient] = set()
        self._lock = threading.Lock()
        self._closed = False
        for event_type in _NEWS:
            bus.subscribe(event_type, self._on_event)

    @property
    def client_count(self) -> int:
        """How many consoles are connected now."""
        with self._lock:
            return len(self._clients)

    def connect(self, loop: asyncio.AbstractEventLoop) -> StreamClient:
        """Register a new console whose stream runs on `loop`."""
        client = StreamClient(loop, self._queue_size)
        with self._lock:
            self._clients.add(client)
            # A console arriving while the server shuts down gets a stream that ends at once.
            client.closed = self._closed
        return client

    def disconnect(self, client: StreamClient) -> None:
        """Forget a console whose connection ended."""
        with self._lock:
            self._clients.discard(client)

    def announce(self, news: dict[str, object]) -> None:
        """Push a `case` frame to every console (also for changes that have no domain event)."""
        frame = sse_frame("case", news)
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            client.offer(frame)

    def close(self) -> None:
        """End every open stream, and those opened from now on, so the server can stop."""
        with self._lock:
            self._closed = True
            clients = list(self._clients)
        for client in clients:
            client.close()

    def _on_event(self, event: DomainEvent) -> None:
        # Runs on the publisher's thread (an API worker or the gateway): enqueue only.
        news = case_news(event)
        if news is not None:
            self.announce(news)

    async def frames(
        self, client: StreamClient, *, heartbeat_s: float = HEARTBEAT_S
    ) -> AsyncGenerator[str, None]:
        """The client's SSE frames until it disconnects or the stream is closed."""
        try:
            yield f"retry: {RETRY_MS}\n\n"
            yield sse_frame("hello", {})
            while not client.closed:
                try:
                    await asyncio.wait_for(client.wake.wait(), timeout=heartbeat_s)
                except TimeoutError:
                    yield HEARTBEAT_FRAME
                    continue
                client.wake.clear()
                for frame in client.take():
                    yield frame
        finally:
            self.disconnect(client)
