"""Simulated callees of the callbacks by machine (回访): they answer the survey's SMS or not.

The service's own rules run: `resolve` arms the callback timer, `alerts.callbacks_by_machine`
picks whom to call and when (working hours, retries, the fall back to the operators' list)
and sends the survey by SMS, as it does without Twilio. Here only the callee is simulated:
per the scenario's shares they reply through `AutoCallbacks.sms_reply`, the same call the
SMS webhook makes, one question after the other.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import bindparam
from sqlmodel import col, func, select

from alerts.callbacks_by_machine import AutoCallbacks
from care_api.domain.errors import InvalidInput
from care_api.domain.survey import OK, PRICE_OK, SATISFACTION, TIME_OK
from care_api.services import Services
from care_api.store.call_tables import AutoCallback
from care_api.usecases.cases.auto_callbacks import OPERATOR, TEXTING

SURVEY_KEY_PREFIX = "callback "  # the machine's survey SMS: key "callback <case> <attempt>"
MAX_REPLIES = 8  # more than the survey's questions and re-asks: a loop that never ends is a bug


@dataclass(frozen=True)
class CallbackHabits:
    """How callees answer the survey by SMS (scenario `[callbacks]`); shares lie in 0..1."""

    enabled: bool = True
    answer: float = 0.6  # share of survey SMS a callee replies to (assumption)
    delay_median_s: float = 600.0  # time to the first reply (assumption)
    delay_p90_s: float = 3600.0
    still_needs_help: float = 0.02  # "2" to "is everything all right?" (assumption)
    on_time: float = 0.9  # "help came on time" (assumption)
    price_fair: float = 0.9  # "the price was fair", asked where a merchant served (assumption)
    # Weights of the satisfaction keys 1..5 (assumption: most satisfied, a few unhappy).
    satisfaction: tuple[float, ...] = (1, 1, 3, 10, 25)
    # The centre's settings the machine runs with (VNH_AUTO_CALLBACK_DELAY_S, _RETRY_S).
    after_resolve_s: int = 30 * 60
    retry_s: int = 2 * 3600

    @classmethod
    def of(cls, table: Mapping[str, Any]) -> CallbackHabits:
        """The `[callbacks]` table of a scenario; a missing key keeps its default."""
        base = cls()
        habits = cls(
            enabled=bool(table.get("enabled", base.enabled)),
            answer=float(table.get("answer", base.answer)),
            delay_median_s=float(table.get("delay_median_s", base.delay_median_s)),
            delay_p90_s=float(table.get("delay_p90_s", base.delay_p90_s)),
            still_needs_help=float(table.get("still_needs_help", base.still_needs_help)),
            on_time=float(table.get("on_time", base.on_time)),
            price_fair=float(table.get("price_fair", base.price_fair)),
            satisfaction=tuple(float(w) for w in table.get("satisfaction", base.satisfaction)),
            after_resolve_s=int(table.get("after_resolve_s", base.after_resolve_s)),
            retry_s=int(table.get("retry_s", base.retry_s)),
        )
        habits.check()
        return habits

    def check(self) -> None:
        """InvalidInput when a share or a weight cannot be one."""
        shares = (self.answer, self.still_needs_help, self.on_time, self.price_fair)
        if not all(0.0 <= s <= 1.0 for s in shares):
            raise InvalidInput("[callbacks] shares must lie between 0 and 1")
        w = self.satisfaction
        if len(w) != 5 or min(w) < 0 or sum(w) <= 0:
            raise InvalidInput("[callbacks] satisfaction needs 5 non-negative weights (keys 1-5)")
        if self.after_resolve_s < 0 or self.retry_s < 60:
            raise InvalidInput("[callbacks] after_resolve_s >= 0 and retry_s >= 60")


class Draw(Protocol):
    """A delay drawn from a random stream (vnh.simulate.Delay)."""

    def draw(self, rng: random.Random) -> float: ...


class Later(Protocol):
    """Schedules an action some seconds of virtual time from now (vnh.simulate.Loop)."""

    def after(self, seconds: float, action: Callable[[], None]) -> None: ...


def survey_attempt(key: str | None) -> int | None:
    """The attempt number when a notification of this idempotency key is a survey's SMS."""
    if not key or not key.startswith(SURVEY_KEY_PREFIX):
        return None
    attempt = key.rsplit(" ", 1)[-1]
    return int(attempt) if attempt.isdigit() else 0


class SimulatedCallees:
    """Elders and family members who got the survey's SMS, answering per `habits`."""

    def __init__(
        self,
        services: Services,
        machine: AutoCallbacks,
        loop: Later,
        habits: CallbackHabits,
        delay: Draw,
        seed: int,
    ) -> None:
        self._services = services
        self._machine = machine
        self._loop = loop
        self._habits = habits
        self._delay = delay
        self._seed = seed

    def asked(self, phone: str, case_id: str, attempt: int) -> None:
        """A survey SMS reached `phone`: decide once per attempt whether and when to reply."""
        rng = random.Random(f"{self._seed}:{phone}:{case_id}:callback:{attempt}")
        if rng.random() >= self._habits.answer:
            return
        self._loop.after(self._delay.draw(rng), lambda: self._reply(phone, case_id, rng))

    def _reply(self, phone: str, case_id: str, rng: random.Random) -> None:
        # One reply per question while this case's survey waits. Each reply answers the last
        # question the phone was sent, which with two surveys at once may be the other's.
        for _ in range(MAX_REPLIES):
            question = self._last_question(phone, case_id)
            if question is None:
                return
            if self._machine.sms_reply(phone, self._key(question, rng)) is None:
                return  # another case's alert came since: the reply is not the survey's

    def _last_question(self, phone: str, case_id: str) -> str | None:
        """The question last sent to `phone`, while the survey of `case_id` still waits."""
        with self._services.engine.connect() as conn:
            waiting = conn.execute(_WAITING, {"phone": phone}).all()
        if not any(row_case == case_id for row_case, _ in waiting):
            return None
        return str(waiting[0][1])

    def _key(self, question: str, rng: random.Random) -> str:
        h = self._habits
        if question == OK:
            return "2" if rng.random() < h.still_needs_help else "1"
        if question == SATISFACTION:
            return str(rng.choices(range(1, 6), h.satisfaction)[0])
        share = {TIME_OK: h.on_time, PRICE_OK: h.price_fair}.get(question, 1.0)
        return "1" if rng.random() < share else "2"


# Built once, two columns on a bare connection: asked before each reply a callee sends.
_WAITING = (
    select(AutoCallback.case_id, AutoCallback.question)
    .where(col(AutoCallback.phone) == bindparam("phone"), col(AutoCallback.state) == TEXTING)
    .order_by(col(AutoCallback.updated_at).desc())
)


def left_to_operators(services: Services) -> int:
    """Callbacks the machine handed to the operators' list (unreached, or still in need)."""
    with services.uow() as uow:
        return int(
            uow.session.exec(select(func.count()).where(col(AutoCallback.state) == OPERATOR)).one()
        )


def habits_of(data: Mapping[str, Any]) -> CallbackHabits:
    """The scenario's `[callbacks]` table, or the defaults."""
    table = data.get("callbacks", {})
    if not isinstance(table, Mapping):
        raise InvalidInput("[callbacks] must be a table")
    return CallbackHabits.of(table)
