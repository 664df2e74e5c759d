"""Cutting an inbox batch into runs: order kept, runs homogeneous, the rest alone."""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from device_gateway.batching import Run, split_runs
from device_gateway.ports import Inbound
from device_gateway.protocol.model import Heartbeat, Press


class _Mqtt:
    source = "mqtt"


class _Serial:
    source = "serial:/dev/ttyUSB0"


def _item(kind: str, seq: int, transport: Any = None) -> Inbound:
    bodies: dict[str, dict[str, Any]] = {
        "press": {"type": "press", "pattern": "single"},
        "heartbeat": {"type": "heartbeat", "battery": 80},
        "cancel": {"type": "cancel"},
    }
    payload = (
        b"not json"
        if kind == "garbage"
        else json.dumps({"boot": 1, "seq": seq, **bodies[kind]}).encode()
    )
    return Inbound(
        topic="vnh/v1/dev/T1001/up",
        payload=payload,
        receipt=seq,
        transport=transport or _Mqtt(),  # type: ignore[arg-type]
    )


KINDS = st.sampled_from(["press", "heartbeat", "cancel", "garbage"])


@given(st.lists(KINDS, max_size=30))
def test_split_runs_keeps_every_item_once_in_order_and_runs_hold_one_type(kinds: list[str]) -> None:
    items = [_item(kind, seq) for seq, kind in enumerate(kinds)]
    parts = list(split_runs(items))
    flat = [i for p in parts for i in (p.items if isinstance(p, Run) else [p])]
    assert [i.receipt for i in flat] == [i.receipt for i in items]
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


def test_split_runs_sends_serial_lines_one_by_one() -> None:
    parts = list(split_runs([_item("press", 1, _Serial()), _item("press", 2, _Serial())]))
    assert not any(isinstance(p, Run) for p in parts)
