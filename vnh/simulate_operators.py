"""Simulated operators working the callback list (回访 the machine could not finish).

The list is the service's own (`due_callbacks`, what GET /api/v1/calls/callbacks shows):
cases the machine did not reach three times, or whose elder still needed help. At each of
the scenario's rounds the operators call the soonest due, up to `per_round`, and record
each call with `record_callback`, as POST /api/v1/cases/{id}/callback does: reached (the
case closes) or not (the third unreached call closes it as failed).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlmodel import col, func, select

from care_api.domain.checkins import parse_hhmm
from care_api.domain.errors import Conflict, InvalidInput
from care_api.services import Services
from care_api.store.tables import CaseEvent
from care_api.usecases.cases.actions import record_callback
from care_api.usecases.cases.auto_callbacks import due_callbacks

OPERATOR = "operator:simulated"  # the simulated centre's operator, in every simulate module


@dataclass(frozen=True)
class OperatorHabits:
    """When the operators work the callback list and how their calls go (`[operators]`)."""

    enabled: bool = False  # default: nobody works the list (the figure says what is left)
    rounds: tuple[str, ...] = ("10:00", "15:00")  # local times a round starts (assumption)
    per_round: int = 40  # calls one round gets through (assumption: ~2 h of one operator)
    reach: float = 0.8  # share of calls that reach the elder or family (assumption)
    satisfaction: tuple[float, ...] = (1, 1, 3, 10, 25)  # as [callbacks] (assumption)
    on_time: float = 0.9  # "help came on time" (assumption, as [callbacks])

    @classmethod
    def of(cls, table: Mapping[str, Any]) -> OperatorHabits:
        """The `[operators]` table of a scenario; a missing key keeps its default."""
        base = cls()
        habits = cls(
            enabled=bool(table.get("enabled", base.enabled)),
            rounds=tuple(str(r) for r in table.get("callback_rounds", base.rounds)),
            per_round=int(table.get("callbacks_per_round", base.per_round)),
            reach=float(table.get("reach", base.reach)),
            satisfaction=tuple(float(w) for w in table.get("satisfaction", base.satisfaction)),
            on_time=float(table.get("on_time", base.on_time)),
        )
        habits.check()
        return habits

    def check(self) -> None:
        """InvalidInput when a share, a round's time or a weight cannot be one."""
        if not all(0.0 <= s <= 1.0 for s in (self.reach, self.on_time)):
            raise InvalidInput("[operators] shares must lie between 0 and 1")
        for at in self.rounds:
            parse_hhmm(at)
        w = self.satisfaction
        if len(w) != 5 or min(w) < 0 or sum(w) <= 0 or self.per_round < 0:
            raise InvalidInput("[operators] satisfaction: 5 weights; callbacks_per_round >= 0")


def operators_of(data: Mapping[str, Any]) -> OperatorHabits:
    """The scenario's `[operators]` table, or the defaults (nobody works the list)."""
    table = data.get("operators", {})
    if not isinstance(table, Mapping):
        raise InvalidInput("[operators] must be a table")
    return OperatorHabits.of(table)


class Later(Protocol):
    """Schedules an action at a virtual moment (vnh.simulate.Loop)."""

    def at(self, moment: datetime, action: Callable[[], None]) -> None: ...


class SimulatedOperators:
    """The operators' rounds through the callback list."""

    def __init__(self, services: Services, loop: Later, habits: OperatorHabits, seed: int) -> None:
        self._services = services
        self._loop = loop
        self._habits = habits
        self._rng = random.Random(f"{seed}:operators")  # its own stream

    def schedule(self, start: datetime, days: int) -> None:
        """A round at each of the scenario's local times of each day of the period."""
        if not self._habits.enabled:
            return
        local = start.astimezone(self._services.tz)
        for d in range(days + 1):
            for at in self._habits.rounds:
                t = parse_hhmm(at)
                moment = (local + timedelta(days=d)).replace(
                    hour=t.hour, minute=t.minute, second=0, microsecond=0
                )
                if moment >= start:
                    self._loop.at(moment, self.round)

    def round(self) -> None:
        """Call the soonest due callbacks of the list, each recorded as the console does."""
        h, rng = self._habits, self._rng
        now = self._services.clock.now()
        with self._services.uow() as uow:
            due = [
                c
                for c in due_callbacks(uow.session, limit=h.per_round)
                if c.due_at is None or c.due_at.replace(tzinfo=now.tzinfo) <= now
            ]
        for line in due:
            result: dict[str, object]
            if rng.random() < h.reach:
                result = {
                    "reached": True,
                    "satisfaction": rng.choices(range(1, 6), h.satisfaction)[0],
                    "time_ok": rng.random() < h.on_time,
                    "comment": "operator callback",
                }
            else:
                result = {"reached": False, "comment": "operator callback: not reached"}
            with self._services.uow() as uow:
                try:
                    record_callback(uow, line.case_id, result, by=OPERATOR, now=now)
                except Conflict:
                    continue  # closed meanwhile
                uow.commit()


def operator_callbacks(services: Services) -> int:
    """Callbacks the simulated operators recorded (calls made from the list)."""
    with services.uow() as uow:
        return int(
            uow.session.exec(
                select(func.count()).where(
                    col(CaseEvent.action) == "callback", col(CaseEvent.by) == OPERATOR
                )
            ).one()
        )
