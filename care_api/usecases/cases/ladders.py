"""Escalation ladders as data: who is told, how and when, per case kind; admins edit them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeGuard

from sqlmodel import Session

from care_api.domain.channels import PERSON_CHANNELS, Channel
from care_api.domain.errors import InvalidInput
from care_api.domain.model import CaseKind
from care_api.store.tables import LadderConfig

MAX_STEPS = 10
MAX_AFTER_S = 7 * 24 * 3600
MAX_LIMIT = 50
MAX_FLAG_CHARS = 100
# The last rung repeats until someone takes the case: an emergency nobody took must not
# sit at "call 120" with nobody paged again.
DEFAULT_REPEAT = 3
DEFAULT_REPEAT_EVERY_S = 300
MAX_REPEAT = 20
MIN_REPEAT_EVERY_S = 30  # paging the same people more often only drowns them
CONSOLE = Channel.console.value


class InvalidLadder(InvalidInput):
    """A ladder an admin sent that cannot work; the message says what to fix (HTTP 422)."""


class Audience(StrEnum):
    """Who a ladder step tells; console audiences are desks, the others people with phones."""

    CONTACTS_FIRST = "contacts_first"  # the elder's contacts of the first (lowest) priority
    CONTACTS_REST = "contacts_rest"  # every other contact
    CONTACTS_ALL = "contacts_all"
    VOLUNTEERS_NEAREST = "volunteers_nearest"  # resolved by a hook; nobody until volunteers exist
    SUPERVISOR = "supervisor"  # VNH_SUPERVISOR_PHONE
    OPERATORS = "operators"  # the operator console
    TECHNICIAN = "technician"  # the technicians' console


CONSOLE_AUDIENCES = frozenset({Audience.OPERATORS, Audience.TECHNICIAN})


@dataclass(frozen=True, slots=True)
class Target:
    """One audience of a step and the channels it is reached on."""

    audience: Audience
    channels: tuple[str, ...]
    limit: int | None = None  # at most this many people (nearest first), None for all


@dataclass(frozen=True, slots=True)
class Step:
    """One rung: `after_s` after the previous rung, tell `notify`; `flag` goes to the console."""

    after_s: int
    notify: tuple[Target, ...]
    flag: str | None = None


@dataclass(frozen=True, slots=True)
class Ladder:
    """The rungs of one case kind, climbed while nobody has acknowledged the case.

    The last rung runs again every `repeat_every_s`, at most `repeat` times. Timer steps
    count on past the rungs: step `len(steps) - 1 + n` is the last rung's n-th repeat.
    """

    kind: CaseKind
    steps: tuple[Step, ...]
    repeat: int = 0
    repeat_every_s: int = DEFAULT_REPEAT_EVERY_S

    @property
    def last_rung(self) -> int:
        """The index of the last rung."""
        return len(self.steps) - 1

    @property
    def final_step(self) -> int:
        """The last timer step: the last rung's last repeat."""
        return self.last_rung + self.repeat

    def rung_of(self, step: int) -> tuple[int, int]:
        """The rung a timer step runs and which repeat of it that is (0: the first run)."""
        return min(step, self.last_rung), max(0, step - self.last_rung)


def _t(audience: Audience, *channels: str, limit: int | None = None) -> Target:
    return Target(audience, channels, limit)


_A = Audience
_OPERATORS = _t(_A.OPERATORS, CONSOLE)
# A person is reached on those they have, one text message each (WeChat when bound, else SMS).
_TEXT = (Channel.wechat.value, Channel.sms.value)
_PHONE = (Channel.sms.value, Channel.voice.value)
_FAMILY = (*_TEXT, Channel.voice.value)
# DESIGN.md "Default rules". Care offers to volunteers and merchant dispatch add rungs later.
# Only the emergency's last rung repeats: the other kinds' rungs ask nobody to take the case
# by phone (device cases inform, the rest go to the console and have their own chases).
DEFAULT_LADDERS: Mapping[CaseKind, Ladder] = {
    CaseKind.EMERGENCY: Ladder(
        CaseKind.EMERGENCY,
        (
            Step(0, (_t(_A.CONTACTS_FIRST, *_FAMILY), _OPERATORS)),
            Step(
                120,
                (
                    _t(_A.CONTACTS_REST, *_FAMILY),
                    _t(_A.VOLUNTEERS_NEAREST, *_TEXT, limit=5),
                    _OPERATORS,
                ),
            ),
            Step(300, (_t(_A.SUPERVISOR, *_PHONE), _OPERATORS), flag="call 120"),
        ),
        repeat=DEFAULT_REPEAT,
    ),
    CaseKind.DEVICE: Ladder(
        CaseKind.DEVICE, (Step(0, (_t(_A.CONTACTS_FIRST, *_TEXT), _t(_A.TECHNICIAN, CONSOLE))),)
    ),
    CaseKind.CARE: Ladder(CaseKind.CARE, (Step(0, (_OPERATORS,)),)),
    CaseKind.SERVICE: Ladder(CaseKind.SERVICE, (Step(0, (_OPERATORS,)),)),
    CaseKind.CONSULT: Ladder(CaseKind.CONSULT, (Step(0, (_OPERATORS,)),)),
}


def ladder_from_data(
    kind: CaseKind,
    steps: Sequence[Mapping[str, Any]],
    *,
    repeat: object = DEFAULT_REPEAT,
    repeat_every_s: object = DEFAULT_REPEAT_EVERY_S,
) -> Ladder:
    """Check and build a ladder from its JSON form; raises InvalidLadder saying what is wrong."""
    if not steps:
        raise InvalidLadder("a ladder needs at least one step")
    if len(steps) > MAX_STEPS:
        raise InvalidLadder(f"a ladder has at most {MAX_STEPS} steps")
    built = tuple(_step_from_data(i, raw) for i, raw in enumerate(steps))
    if built[0].after_s != 0:
        raise InvalidLadder("step 0 runs when the case opens: its after_s must be 0")
    if not _whole(repeat) or not 0 <= repeat <= MAX_REPEAT:
        raise InvalidLadder(f"repeat must be a whole number from 0 to {MAX_REPEAT}")
    if not _whole(repeat_every_s) or not MIN_REPEAT_EVERY_S <= repeat_every_s <= MAX_AFTER_S:
        raise InvalidLadder(
            f"repeat_every_s must be between {MIN_REPEAT_EVERY_S} and {MAX_AFTER_S} seconds"
        )
    return Ladder(kind, built, repeat, repeat_every_s)


def _whole(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _step_from_data(index: int, raw: Mapping[str, Any]) -> Step:
    where = f"step {index}"
    after_s = raw.get("after_s", 0)
    if not isinstance(after_s, int) or isinstance(after_s, bool):
        raise InvalidLadder(f"{where}: after_s must be a whole number of seconds")
    if not 0 <= after_s <= MAX_AFTER_S:
        raise InvalidLadder(f"{where}: after_s must be between 0 and {MAX_AFTER_S}")
    flag = raw.get("flag")
    if flag is not None and (not isinstance(flag, str) or not 0 < len(flag) <= MAX_FLAG_CHARS):
        raise InvalidLadder(f"{where}: flag must be text of 1 to {MAX_FLAG_CHARS} characters")
    notify = raw.get("notify", [])
    if not isinstance(notify, Sequence) or isinstance(notify, str):
        raise InvalidLadder(f"{where}: notify must be a list")
    targets = tuple(_target_from_data(f"{where} target {j}", t) for j, t in enumerate(notify))
    if not targets and flag is None:
        raise InvalidLadder(f"{where}: tells nobody; give it a target or a flag")
    return Step(after_s, targets, flag)


def _target_from_data(where: str, raw: object) -> Target:
    if not isinstance(raw, Mapping):
        raise InvalidLadder(f"{where}: must be an object")
    try:
        audience = Audience(str(raw.get("audience")))
    except ValueError:
        known = ", ".join(a.value for a in Audience)
        raise InvalidLadder(f"{where}: audience must be one of {known}") from None
    channels = raw.get("channels")
    if not isinstance(channels, Sequence) or isinstance(channels, str) or not channels:
        raise InvalidLadder(f"{where}: channels must be a non-empty list")
    if len(set(channels)) != len(channels):
        raise InvalidLadder(f"{where}: a channel is listed twice")
    if audience in CONSOLE_AUDIENCES:
        if list(channels) != [CONSOLE]:
            raise InvalidLadder(f"{where}: {audience} is reached on the console only")
    elif not set(channels) <= set(PERSON_CHANNELS):
        raise InvalidLadder(f"{where}: {audience} is reached by {', '.join(PERSON_CHANNELS)}")
    limit = raw.get("limit")
    if limit is not None and (
        not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT
    ):
        raise InvalidLadder(f"{where}: limit must be between 1 and {MAX_LIMIT}")
    return Target(audience, tuple(str(c) for c in channels), limit)


def ladder_to_data(ladder: Ladder) -> list[dict[str, Any]]:
    """The JSON form of a ladder's steps (what ladder_from_data reads back)."""
    return [
        {
            "after_s": step.after_s,
            "notify": [
                {"audience": t.audience.value, "channels": list(t.channels), "limit": t.limit}
                for t in step.notify
            ],
            "flag": step.flag,
        }
        for step in ladder.steps
    ]


def get_ladder(session: Session, kind: CaseKind) -> Ladder:
    """The ladder in force for `kind`: the admin's if one was saved, else the default."""
    row = session.get(LadderConfig, kind.value)
    if row is None:
        return DEFAULT_LADDERS[kind]
    return ladder_from_data(kind, row.steps, repeat=row.repeat, repeat_every_s=row.repeat_every_s)


def is_default_ladder(session: Session, kind: CaseKind) -> bool:
    """True while no admin has saved a ladder for `kind`."""
    return session.get(LadderConfig, kind.value) is None


def put_ladder(
    session: Session,
    kind: CaseKind,
    steps: Sequence[Mapping[str, Any]],
    *,
    by: str,
    now: datetime,
    repeat: int = DEFAULT_REPEAT,
    repeat_every_s: int = DEFAULT_REPEAT_EVERY_S,
) -> Ladder:
    """Replace the ladder of `kind`; cases already climbing use it from their next step."""
    ladder = ladder_from_data(kind, steps, repeat=repeat, repeat_every_s=repeat_every_s)
    row = session.get(LadderConfig, kind.value, with_for_update=True)
    if row is None:
        row = LadderConfig(kind=kind.value, steps=[], updated_at=now)
    row.steps = ladder_to_data(ladder)
    row.repeat = ladder.repeat
    row.repeat_every_s = ladder.repeat_every_s
    row.updated_by = by
    row.updated_at = now
    session.add(row)
    return ladder


def reset_ladder(session: Session, kind: CaseKind) -> Ladder:
    """Drop the admin's ladder of `kind` so the default applies again."""
    row = session.get(LadderConfig, kind.value)
    if row is not None:
        session.delete(row)
    return DEFAULT_LADDERS[kind]
