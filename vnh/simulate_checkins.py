"""Simulated check-ins (每日报平安): elders with a daily window press, or miss it.

The service's own rules run: the windows are added by `add_window` (as the console does),
a press inside an open window is the check-in (`note_press` in intake), the "checkin" timer
judges each window when it closes (`alerts/checkins.py`: a missed window opens a care case
and calls the elder), and a press after the call is the late check-in (`note_late_checkin`).
Here only the elder and the operator are simulated: whether and when the elder presses, and
the operator who confirms a late check-in and resolves its case.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlmodel import Session, col, func, select

from care_api.domain.cases import UNOWNED
from care_api.domain.checkins import check_window
from care_api.domain.errors import Conflict, InvalidInput
from care_api.i18n import t
from care_api.services import Services
from care_api.store.tables import Case, CaseEvent, Elder
from care_api.usecases.cases.actions import acknowledge, resolve
from care_api.usecases.schedules.checkins import CHECKIN_ACTOR, LATE_CHECKIN_ACTION, add_window
from vnh.simulate_operators import OPERATOR


class Draw(Protocol):
    """A delay drawn from a random stream (vnh.simulate.Delay)."""

    def draw(self, rng: random.Random) -> float: ...


@dataclass(frozen=True)
class CheckinHabits:
    """Who has a daily check-in window and how they keep it (scenario `[checkins]`)."""

    share: float = 0.0  # share of elders with a window; 0: no check-ins simulated
    start: str = "08:00"  # the window, local time (the console's example window)
    end: str = "10:00"
    kept: float = 0.95  # share of days an elder presses inside the window (assumption)
    # An elder who missed gets the service's call ("press your button once"); the share who
    # press after it, and how fast (assumption).
    call_back: float = 0.7
    call_back_median_s: float = 120.0
    call_back_p90_s: float = 600.0
    # The operator confirms a late check-in (calls the elder) and resolves the case.
    confirm_median_s: float = 600.0
    confirm_p90_s: float = 1800.0

    @classmethod
    def of(cls, table: Mapping[str, Any]) -> CheckinHabits:
        """The `[checkins]` table of a scenario; a missing key keeps its default."""
        base = cls()
        window = table.get("window", [base.start, base.end])
        if not isinstance(window, list) or len(window) != 2:
            raise InvalidInput('[checkins] window is ["HH:MM", "HH:MM"]')
        habits = cls(
            share=float(table.get("share", base.share)),
            start=str(window[0]),
            end=str(window[1]),
            kept=float(table.get("kept", base.kept)),
            call_back=float(table.get("call_back", base.call_back)),
            call_back_median_s=float(table.get("call_back_median_s", base.call_back_median_s)),
            call_back_p90_s=float(table.get("call_back_p90_s", base.call_back_p90_s)),
            confirm_median_s=float(table.get("confirm_median_s", base.confirm_median_s)),
            confirm_p90_s=float(table.get("confirm_p90_s", base.confirm_p90_s)),
        )
        habits.check()
        return habits

    def check(self) -> None:
        """InvalidInput when a share or the window cannot be one."""
        if not all(0.0 <= s <= 1.0 for s in (self.share, self.kept, self.call_back)):
            raise InvalidInput("[checkins] shares must lie between 0 and 1")
        check_window(self.start, self.end)  # the service's own check: InvalidInput if bad


def checkins_of(data: Mapping[str, Any]) -> CheckinHabits:
    """The scenario's `[checkins]` table, or the defaults (none)."""
    table = data.get("checkins", {})
    if not isinstance(table, Mapping):
        raise InvalidInput("[checkins] must be a table")
    return CheckinHabits.of(table)


@dataclass(frozen=True)
class CheckinFigures:
    """What the check-ins of a run came to, read from the service's own records."""

    windows: int  # elders with a window
    due: int  # windows judged in the period (one a day each)
    missed: int  # missed check-in cases the service opened
    late: int  # of them: the elder checked in late (after the call)
    taken: int  # of them: taken by a person (a volunteer's offer, or an operator)
    resolved: int  # of them: resolved by the end
    open: int  # of them: still waiting for someone at the end


class Later(Protocol):
    """Schedules an action at a virtual moment (vnh.simulate.Loop)."""

    def at(self, moment: datetime, action: Callable[[], None]) -> None: ...

    def after(self, seconds: float, action: Callable[[], None]) -> None: ...


class SimulatedCheckins:
    """Elders with a window, pressing in it or not; the operator confirming late check-ins."""

    def __init__(
        self,
        services: Services,
        loop: Later,
        habits: CheckinHabits,
        press: Callable[[str], str | None],
        delays: tuple[Draw, Draw],
        seed: int,
    ) -> None:
        self._services = services
        self._loop = loop
        self._habits = habits
        self._press = press  # a main single press of the device; the case it went to
        self._call_back, self._confirm = delays
        self._seed = seed
        self._device_of: dict[str, str] = {}  # phone of an elder with a window -> device
        self.pressed = 0

    def setup(self, session: Session, devices: Mapping[str, str], now: datetime) -> None:
        """Add a window for the scenario's share of elders (`devices`: phone -> device)."""
        if self._habits.share <= 0:
            return
        # Its own stream: the places and presses of the run stay those without check-ins.
        rng = random.Random(f"{self._seed}:checkins")
        ids = dict(session.exec(select(Elder.phone, Elder.id)).all())
        for phone, device in devices.items():
            if rng.random() >= self._habits.share:
                continue
            h = self._habits
            elder_id = ids[phone]
            assert elder_id is not None  # noqa: S101 - imported rows have ids
            add_window(
                session,
                elder_id,
                start=h.start,
                end=h.end,
                holidays_off=True,
                by="simulate",
                now=now,
                tz=self._services.tz,
            )
            self._device_of[phone] = device

    def schedule(self, first_day: datetime, days: int) -> None:
        """Each elder's press of each day: inside the window (uniform), or none (`kept`)."""
        h = self._habits
        tz = self._services.tz
        hh, mm = (int(x) for x in h.start.split(":"))
        eh, em = (int(x) for x in h.end.split(":"))
        span = (eh * 60 + em - hh * 60 - mm) * 60
        local = first_day.astimezone(tz)
        for phone, device in self._device_of.items():
            rng = random.Random(f"{self._seed}:checkins:{phone}")
            # One day more: a window earlier in the day than the start closes on day days+1.
            for d in range(days + 1):
                day = (local + timedelta(days=d)).replace(
                    hour=hh, minute=mm, second=0, microsecond=0
                )
                if rng.random() >= h.kept:
                    continue
                at = day + timedelta(seconds=rng.uniform(0, span))
                if at >= first_day:
                    self._loop.at(at, self._pressing(device))

    def _pressing(self, device: str) -> Callable[[], None]:
        def press() -> None:
            self.pressed += 1
            self._press(device)

        return press

    def called(self, phone: str, case_id: str) -> None:
        """The service called an elder who missed: they may press back, as the call asks."""
        device = self._device_of.get(phone)
        if device is None:
            return
        rng = random.Random(f"{self._seed}:checkins:{phone}:{case_id}")
        if rng.random() >= self._habits.call_back:
            return

        def press_back() -> None:
            self.pressed += 1
            went_to = self._press(device)
            if went_to is None:
                return
            # The operator confirms the late check-in by phone and resolves its case.
            self._loop.after(self._confirm.draw(rng), lambda: self._confirm_late(went_to))

        self._loop.after(self._call_back.draw(rng), press_back)

    def _confirm_late(self, case_id: str) -> None:
        now = self._services.clock.now()
        with self._services.uow() as uow:
            case = uow.session.get(Case, case_id)
            if case is None or case.resolved_at is not None or case.owner not in (None, OPERATOR):
                return  # someone else took it meanwhile: theirs to resolve
            try:
                if case.owner is None:
                    acknowledge(uow, case_id, by=OPERATOR, now=now, via="console")
                resolve(uow, case_id, by=OPERATOR, why="checked in late, confirmed", now=now)
            except Conflict:
                return
            uow.commit()

    def figures(self, session: Session, days: int) -> CheckinFigures | None:
        """The period's check-ins from the service's records; None when none were simulated."""
        if not self._device_of:
            return None
        missed = list(
            session.exec(
                select(Case)
                .join(CaseEvent, col(CaseEvent.case_id) == col(Case.id))
                .where(col(CaseEvent.by) == CHECKIN_ACTOR, col(CaseEvent.action) == "opened")
            ).all()
        )
        ids = [c.id for c in missed]
        late = session.exec(
            select(func.count(func.distinct(CaseEvent.case_id))).where(
                col(CaseEvent.case_id).in_(ids), col(CaseEvent.action) == LATE_CHECKIN_ACTION
            )
        ).one()
        return CheckinFigures(
            windows=len(self._device_of),
            due=len(self._device_of) * days,
            missed=len(missed),
            late=int(late),
            taken=sum(1 for c in missed if c.owner is not None and c.owner != OPERATOR),
            resolved=sum(1 for c in missed if c.resolved_at is not None),
            open=sum(1 for c in missed if c.state in UNOWNED),
        )


def checkin_rows(f: CheckinFigures | None, language: str) -> list[tuple[str, str]]:
    """The report's lines for check-ins (labels in `language`); none without windows."""
    if f is None:
        return []
    kept = f.due - f.missed
    share = f"{100 * kept / f.due:.1f} %" if f.due else "-"
    return [
        (t(language, "check-ins due / kept"), f"{f.due} / {kept} ({share})"),
        ("  " + t(language, "missed (a care case, a call)"), str(f.missed)),
        (
            "  " + t(language, "then: checked in late / taken / open"),
            f"{f.late} / {f.taken} / {f.open}",
        ),
        ("  " + t(language, "missed check-in cases resolved"), str(f.resolved)),
    ]
