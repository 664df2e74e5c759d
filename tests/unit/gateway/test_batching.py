"""Cutting a decoded inbox batch into runs: order kept, runs homogeneous, the rest alone."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from care_api.domain.fleet import DevicePosition, PositionSource
from device_gateway.batching import Run, split_runs
from device_gateway.ports import Decoded, Inbound
from device_gateway.protocol.json_codec import decode_uplink
from device_gateway.protocol.model import Heartbeat, Press

WHERE = DevicePosition(
    at=datetime(2026, 12, 4, tzinfo=UTC),
    lat=29.08,
    lon=119.65,
    fix=True,
    source=PositionSource.GPS,
)


def _item(kind: str, seq: int) -> tuple[Inbound, Decoded]:
    """A message as its transport decoded it; "presence" and "position" ask more of intake."""
    bodies: dict[str, dict[str, Any]] = {
        "press": {"type": "press", "pattern": "single"},
        "heartbeat": {"type": "heartbeat", "battery": 80},
        "cancel": {"type": "cancel", "ref_seq": 1},
        "position": {"type": "press", "pattern": "long"},
        "fall": {"type": "press", "pattern": "long"},
    }
    item = Inbound(topic="vnh/v1/dev/T1001/up", payload=b"", receipt=seq, transport=None)  # type: ignore[arg-type]
    if kind == "presence":
        return item, Decoded("T1001", online=True)
    event = decode_uplink("T1001", json.dumps({"boot": 1, "seq": seq, **bodies[kind]}).encode())
    if kind == "position":
        return item, Decoded("T1001", event=event, position=WHERE)
    if kind == "fall":
        return item, Decoded("T1001", event=event, fall_window_s=0)
    return item, Decoded("T1001", event=event)


KINDS = st.sampled_from(["press", "heartbeat", "cancel", "presence", "position", "fall"])


@given(st.lists(KINDS, max_size=30))
def test_split_runs_keeps_every_item_once_in_order_and_runs_hold_one_type(kinds: list[str]) -> None:
    items = [_item(kind, seq) for seq, kind in enumerate(kinds)]
    parts = list(split_runs(items))
    flat = [i for p in parts for i in (p.items if isinstance(p, Run) else [p[0]])]
    assert [i.receipt for i in flat] == [i.receipt for i, _ in items]
    for part in parts:
        if isinstance(part, Run):
            assert part.events
            assert all(type(event) is part.type for event, _ in part.events)
    # Neighbouring runs are never of the same type: a run is as long as it can be.
    for left, right in itertools.pairwise(parts):
        if isinstance(left, Run) and isinstance(right, Run):
            assert left.type is not right.type


def test_split_runs_groups_presses_and_heartbeats_and_leaves_the_rest_alone() -> None:
    kinds = ["press", "press", "heartbeat", "heartbeat", "heartbeat", "cancel", "press"]
    parts = list(split_runs([_item(kind, seq) for seq, kind in enumerate(kinds)]))
    shape = [(p.type, len(p.events)) if isinstance(p, Run) else "alone" for p in parts]
    assert shape == [(Press, 2), (Heartbeat, 3), "alone", (Press, 1)]


def test_split_runs_sends_what_asks_more_than_a_plain_report_alone() -> None:
    # A watch's alarm keeps its position first and counted its own fall window: one by one.
    kinds = ["press", "position", "press", "fall", "presence", "press"]
    parts = list(split_runs([_item(kind, seq) for seq, kind in enumerate(kinds)]))
    shape = [(p.type, len(p.events)) if isinstance(p, Run) else "alone" for p in parts]
    assert shape == [(Press, 1), "alone", (Press, 1), "alone", "alone", (Press, 1)]
