"""The console's case stream: bus events become SSE frames in bounded per-client queues."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

from care_api.domain.events import (
    CaseCheckedInLate,
    CaseOpened,
    CaseStateChanged,
    EventBus,
    TimerDue,
)
from care_api.domain.model import CaseKind, CaseState
from care_api.http.case_stream import HEARTBEAT_FRAME, RESYNC_FRAME, CaseStream

T = TypeVar("T")


def run_loop(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """`asyncio.run(main())` on a thread of its own.

    A worker that ran a browser test keeps Playwright's event loop running on its main
    thread for the rest of the session, where `asyncio.run` refuses to start.
    """
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(main())).result()


def opened(case_id: str) -> CaseOpened:
    return CaseOpened(case_id, CaseKind.EMERGENCY, 1, "T1001")


def data_of(frame: str) -> dict[str, object]:
    lines = dict(line.split(": ", 1) for line in frame.strip().splitlines())
    assert lines["event"] == "case"
    return dict(json.loads(lines["data"]))


def test_case_stream_turns_bus_events_into_case_frames() -> None:
    async def run() -> list[str]:
        bus = EventBus()
        stream = CaseStream(bus)
        client = stream.connect(asyncio.get_running_loop())
        bus.publish(opened("C-1"))
        bus.publish(CaseStateChanged("C-1", CaseState.OPEN, CaseState.ACCEPTED, "op:Li", None))
        bus.publish(TimerDue(1, "ladder"))  # not news for the console
        bus.publish(CaseCheckedInLate("C-2", "T1001", datetime(2026, 11, 23, 2, 40, tzinfo=UTC)))
        return client.take()

    frames = run_loop(run)
    assert [data_of(f) for f in frames] == [
        {"case_id": "C-1", "change": "opened", "kind": "emergency"},
        {"case_id": "C-1", "change": "state", "from": "open", "to": "accepted", "by": "op:Li"},
        {"case_id": "C-2", "change": "checked_in_late"},
    ]


def test_case_stream_drops_the_oldest_and_asks_a_slow_client_to_resync() -> None:
    async def run() -> list[str]:
        bus = EventBus()
        stream = CaseStream(bus, queue_size=2)
        client = stream.connect(asyncio.get_running_loop())
        for n in range(3):
            bus.publish(opened(f"C-{n}"))
        return client.take()

    frames = run_loop(run)
    assert frames[0] == RESYNC_FRAME
    assert [data_of(f)["case_id"] for f in frames[1:]] == ["C-1", "C-2"]


def test_case_stream_delivers_events_published_from_another_thread() -> None:
    async def run() -> list[str]:
        bus = EventBus()
        stream = CaseStream(bus)
        client = stream.connect(asyncio.get_running_loop())
        frames = stream.frames(client, heartbeat_s=60)
        got = [await anext(frames), await anext(frames)]  # retry, hello
        publisher = threading.Thread(target=bus.publish, args=(opened("C-9"),))
        publisher.start()
        got.append(await asyncio.wait_for(anext(frames), timeout=5))
        publisher.join()
        stream.close()
        got.extend([frame async for frame in frames])
        return got

    frames = run_loop(run)
    assert frames[0].startswith("retry: ")
    assert frames[1].startswith("event: hello")
    assert data_of(frames[2])["case_id"] == "C-9"
    assert len(frames) == 3  # closing ended the stream


def test_case_stream_sends_a_heartbeat_when_quiet_and_forgets_closed_clients() -> None:
    async def run() -> tuple[str, int, int]:
        stream = CaseStream(EventBus())
        client = stream.connect(asyncio.get_running_loop())
        frames = stream.frames(client, heartbeat_s=0)
        await anext(frames)
        await anext(frames)
        beat = await anext(frames)
        connected = stream.client_count
        await frames.aclose()
        return beat, connected, stream.client_count

    assert run_loop(run) == (HEARTBEAT_FRAME, 1, 0)
