"""A scenario's `[ladders]`: the centre's escalation ladders as an admin would set them.

Everything goes through the service's own ladder data (`ladder_to_data` of the default,
checked by `ladder_from_data`, saved by `put_ladder` as PUT /api/v1/ladders does), so a
ladder the service would refuse is refused here with the same words. The shortcuts change
the emergency ladder; `[ladders.<kind>]` replaces a kind's whole ladder.

    [ladders]
    after_s = [0, 60, 300]        # each rung's delay after the one before
    volunteers_at_step = 0        # the nearest volunteers are asked at this rung
    supervisor_after_s = 240      # the last rung's delay (the supervisor)
    repeat = 3                    # the last rung's repeats, `repeat_every_s` apart
    [[ladders.care.steps]]        # a whole ladder, in the API's JSON form
    after_s = 0
    notify = [{ audience = "operators", channels = ["console"] }]
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from care_api.domain.errors import InvalidInput
from care_api.domain.model import CaseKind
from care_api.usecases.cases.ladders import (
    DEFAULT_LADDERS,
    Audience,
    ladder_from_data,
    ladder_to_data,
    put_ladder,
)

# The emergency ladder's shortcuts: every other key of `[ladders]` names a case kind.
SHORTCUTS = frozenset(
    {"after_s", "volunteers_at_step", "supervisor_after_s", "repeat", "repeat_every_s"}
)


@dataclass(frozen=True)
class LadderSetting:
    """One kind's ladder as PUT /api/v1/ladders takes it."""

    kind: CaseKind
    steps: tuple[Mapping[str, Any], ...]
    repeat: int
    repeat_every_s: int


def _kind(name: str) -> CaseKind:
    try:
        return CaseKind(name)
    except ValueError:
        known = ", ".join(k.value for k in CaseKind)
        raise InvalidInput(f"[ladders.{name}]: not a case kind ({known})") from None


def _int(table: Mapping[str, Any], key: str, default: int) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(f"[ladders] {key} must be a whole number")
    return value


def _move_volunteers(steps: list[dict[str, Any]], at: int) -> None:
    """Take the nearest volunteers off every rung and ask them at rung `at` instead."""
    if not 0 <= at < len(steps):
        raise InvalidInput(f"[ladders] volunteers_at_step must be 0 to {len(steps) - 1}")
    moved: dict[str, Any] | None = None
    for step in steps:
        keep = []
        for target in step["notify"]:
            if target["audience"] == Audience.VOLUNTEERS_NEAREST.value:
                moved = moved or target
            else:
                keep.append(target)
        step["notify"] = keep
    steps[at]["notify"].append(
        moved or {"audience": Audience.VOLUNTEERS_NEAREST.value, "channels": ["sms"], "limit": 5}
    )


def _emergency(table: Mapping[str, Any], own: Mapping[str, Any] | None) -> LadderSetting | None:
    """The emergency ladder with the shortcuts applied, or None if the scenario moves nothing."""
    if own is None and not SHORTCUTS.intersection(table):
        return None
    default = DEFAULT_LADDERS[CaseKind.EMERGENCY]
    base = own if own is not None else {}
    steps = copy.deepcopy(list(base.get("steps", ladder_to_data(default))))
    repeat = _int(base, "repeat", default.repeat)
    every = _int(base, "repeat_every_s", default.repeat_every_s)
    if "after_s" in table:
        delays = table["after_s"]
        if not isinstance(delays, list) or len(delays) != len(steps):
            raise InvalidInput(f"[ladders] after_s needs one delay per rung ({len(steps)})")
        for step, delay in zip(steps, delays, strict=True):
            step["after_s"] = delay
    if "volunteers_at_step" in table:
        _move_volunteers(steps, _int(table, "volunteers_at_step", 1))
    if "supervisor_after_s" in table:
        steps[-1]["after_s"] = _int(table, "supervisor_after_s", 0)
    repeat = _int(table, "repeat", repeat)
    every = _int(table, "repeat_every_s", every)
    return _checked(CaseKind.EMERGENCY, steps, repeat, every)


def _checked(kind: CaseKind, steps: list[Any], repeat: int, every: int) -> LadderSetting:
    # The service's own check: what an admin could not save, a scenario cannot either.
    ladder_from_data(kind, steps, repeat=repeat, repeat_every_s=every)
    return LadderSetting(kind, tuple(steps), repeat, every)


def ladders_of(data: Mapping[str, Any]) -> tuple[LadderSetting, ...]:
    """The ladders a scenario's `[ladders]` sets; InvalidInput (the service's words) if bad."""
    table = data.get("ladders", {})
    if not isinstance(table, Mapping):
        raise InvalidInput("[ladders] must be a table")
    kinds = {k: v for k, v in table.items() if k not in SHORTCUTS}
    out: list[LadderSetting] = []
    for name, own in kinds.items():
        if not isinstance(own, Mapping):
            raise InvalidInput(f"[ladders] {name}: not a setting or a kind's table")
        kind = _kind(name)
        if kind is CaseKind.EMERGENCY:
            continue  # below, with the shortcuts
        default = DEFAULT_LADDERS[kind]
        steps = list(own.get("steps", ladder_to_data(default)))
        repeat = _int(own, "repeat", default.repeat)
        every = _int(own, "repeat_every_s", default.repeat_every_s)
        out.append(_checked(kind, steps, repeat, every))
    emergency = _emergency(table, kinds.get(CaseKind.EMERGENCY.value))
    if emergency is not None:
        out.insert(0, emergency)
    return tuple(out)


def save_ladders(session: Session, ladders: tuple[LadderSetting, ...], now: datetime) -> None:
    """Save each ladder through the admin's own use case, as PUT /api/v1/ladders would."""
    for ladder in ladders:
        put_ladder(
            session,
            ladder.kind,
            list(ladder.steps),
            by="simulate",
            now=now,
            repeat=ladder.repeat,
            repeat_every_s=ladder.repeat_every_s,
        )
