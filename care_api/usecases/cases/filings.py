"""Cases an operator files by hand: their working-day deadline, one extension, and 督办 notices.

`case_log.open_case` writes the deadline (a `TimerPurpose.CASE_DEADLINE` timer) for a filed
case and for every consultation, so a consult a terminal opened has one too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlmodel import select

from care_api.domain.errors import Conflict, InvalidInput, NotFound
from care_api.domain.lines import kind_for_line
from care_api.domain.model import SYSTEM, CaseKind, CaseState, ServiceLine
from care_api.domain.texts import Msg, state_word, stored_text, term
from care_api.domain.workdays import Matter, extended_due
from care_api.store.tables import Case, CaseDeadline, CaseNeed
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.log import add_note, open_case, schedule_deadline
from care_api.usecases.people.registry import get_elder
from care_api.usecases.schedules.workdays import load_calendar

FILED_KINDS = frozenset({CaseKind.CONSULT, CaseKind.SERVICE, CaseKind.CARE})
# The deadline stops mattering once the matter is answered (or withdrawn).
SETTLED = frozenset({CaseState.RESOLVED, CaseState.CLOSED, CaseState.CANCELLED})
SUPERVISION = "supervision"
OVERDUE_FLAG = Msg("overdue: supervision notice")


@dataclass(frozen=True, slots=True)
class Filing:
    """What an operator files: the elder, the kind of case and its line, what it is about.

    With no kind, the line's (legal → consult); with no line, the kind's default.
    """

    elder_id: int
    kind: CaseKind | None
    summary: str
    line: ServiceLine | None = None
    matter: Matter = Matter.GENERAL
    need: str = ""  # care: what the volunteer is asked to do
    skill: str | None = None  # care: a skill the volunteer must have
    needs_medical: bool = False  # care: may the volunteer read the medical notes


@dataclass(frozen=True, slots=True)
class Notice:
    """A supervision notice (督办通知书) just issued on an overdue case."""

    case_id: str
    matter: str
    due_at: datetime
    summary: str


def _local(value: datetime, tz: tzinfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def file_case(
    uow: SqlUnitOfWork, filing: Filing, *, by: str, now: datetime, tz: tzinfo
) -> tuple[Case, CaseDeadline]:
    """Open a case by hand with the due date its matter has in working days.

    Raises:
        ValueError: no kind nor line, a kind not filed by hand, or a line not of the kind.
    """
    if filing.kind is not None:
        kind = filing.kind
    elif filing.line is not None:
        kind = kind_for_line(filing.line)
    else:
        raise InvalidInput(Msg("a filed case needs a kind or a service line"))
    if kind not in FILED_KINDS:
        raise InvalidInput(
            Msg("a case filed by hand is one of {allowed}", allowed=", ".join(sorted(FILED_KINDS)))
        )
    get_elder(uow.session, filing.elder_id)
    case = open_case(
        uow,
        kind=kind,
        elder_id=filing.elder_id,
        trigger=Msg("filed by hand"),
        by=by,
        now=now,
        tz=tz,
        line=filing.line,
        matter=filing.matter,
    )
    case.summary, case.summary_msg = filing.summary, None  # typed by hand: as it was typed
    if kind is CaseKind.CARE:
        # In the case's own transaction, so the first offer (after the commit) finds it.
        need = CaseNeed(
            case_id=case.id,
            need=filing.need or filing.summary,
            skill=filing.skill.strip().lower() if filing.skill else None,
            needs_medical=filing.needs_medical,
        )
        uow.session.add(need)
    deadline = get_deadline(uow, case.id)
    if deadline is None:  # pragma: no cover - open_case wrote it for the matter
        raise RuntimeError(f"filed case {case.id} has no deadline")
    return case, deadline


def get_deadline(uow: SqlUnitOfWork, case_id: str) -> CaseDeadline | None:
    """The deadline of a hand-filed case, None for others."""
    return uow.session.exec(select(CaseDeadline).where(CaseDeadline.case_id == case_id)).first()


def extend_case(
    uow: SqlUnitOfWork,
    case_id: str,
    *,
    days: int,
    reason: str,
    by: str,
    now: datetime,
    tz: tzinfo,
) -> CaseDeadline:
    """Give the case its one extension of at most 15 working days, counted from its due date."""
    case = uow.session.get(Case, case_id, with_for_update=True)
    if case is None:
        raise NotFound(Msg("case {case_id} not found", case_id=case_id))
    deadline = get_deadline(uow, case_id)
    if deadline is None:
        raise Conflict(Msg("case {case_id} has no working-day deadline to extend", case_id=case_id))
    if case.state in SETTLED:
        raise Conflict(
            Msg(
                "case {case_id} is {state}; its deadline no longer runs",
                case_id=case_id,
                state=state_word(case.state),
            )
        )
    if deadline.extended_days:
        raise Conflict(
            Msg(
                "case {case_id} was extended once already; there is no second extension",
                case_id=case_id,
            )
        )
    if not reason.strip():
        raise InvalidInput(Msg("an extension needs a reason"))
    deadline.due_at = extended_due(deadline.due_at, days, load_calendar(uow.session), tz)
    deadline.extended_days = days
    deadline.extension_reason = reason.strip()
    deadline.extended_at = now
    uow.session.add(deadline)
    schedule_deadline(uow, deadline, now)
    why = Msg(
        "extended by {days} working day(s) to {due}: {reason}",
        days=days,
        due=deadline.due_at.astimezone(tz),
        reason=reason.strip(),
    )
    add_note(uow, case, action="extended", by=by, why=why, now=now)
    return deadline


def supervise_if_overdue(uow: SqlUnitOfWork, deadline_id: int, *, now: datetime) -> Notice | None:
    """Issue the supervision notice (督办通知书) if the matter is still open past its due time.

    None when it was answered in time, was extended past `now`, or was noticed already for
    this due time; so a timer left over from before an extension does nothing.
    """
    deadline = uow.session.get(CaseDeadline, deadline_id, with_for_update=True)
    if deadline is None:
        return None
    case = uow.session.get(Case, deadline.case_id, with_for_update=True)
    if case is None or case.state in SETTLED or deadline.due_at > now:
        return None
    if deadline.supervised_at is not None and deadline.supervised_at >= deadline.due_at:
        return None
    deadline.supervised_at = now
    uow.session.add(deadline)
    by = str(SYSTEM)
    why = Msg(
        "督办通知书 supervision notice: {matter} matter due {due} is overdue",
        matter=term(deadline.matter),
        due=deadline.due_at,
    )
    add_note(uow, case, action=SUPERVISION, by=by, why=why, now=now)
    add_note(uow, case, action="flag", by=by, why=OVERDUE_FLAG, now=now)
    return Notice(
        case.id, deadline.matter, deadline.due_at, stored_text(case.summary, case.summary_msg)
    )
