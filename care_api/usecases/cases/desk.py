"""The operator's desk: notes on a case, outcome codes, scripted procedures, handover notes.

None of these changes a case's state: each writes history rows (who, when, what) or config.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from care_api.domain.errors import InvalidInput
from care_api.domain.model import CaseKind, ServiceLine
from care_api.domain.texts import N_, Msg
from care_api.i18n import LANGUAGES, t
from care_api.store.desk_tables import CaseOutcome, CaseScript, HandoverNote, OutcomeCode
from care_api.store.tables import Case, CaseEvent
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.log import add_note_row

NOTE_ACTIONS = ("note", "call_attempt")
NOTE_MAX = 1000
HANDOVER_MAX = 2000
HANDOVER_HOURS = 24
HANDOVER_LIMIT = 20
CODE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
MAX_CODES = 30
MAX_STEPS = 20
LABEL_MAX = 200
SCRIPT_TICK = "script_step"
# A tick's history line: "[call_elder] Call the elder"; the id tells which step was ticked.
_TICK = re.compile(r"^\[([a-z][a-z0-9_]{0,31})\] ")

# The outcomes a centre starts with (Tunstall PNC-style result codes); the admin may replace them.
DEFAULT_OUTCOMES: tuple[tuple[str, str], ...] = (
    ("false_alarm", N_("False alarm")),
    ("fall_no_injury", N_("Fall without injury")),
    ("ambulance_called", N_("Ambulance called")),
    ("help_given", N_("Help given at home")),
    ("elder_ok", N_("Elder is fine")),
    ("referred", N_("Referred to a service")),
    ("other", N_("Other")),
)

_CALL_ELDER = ("call_elder", N_("Call the elder"))
_CALL_CONTACT = ("call_contact_1", N_("Call contact 1"))
_CALL_120 = ("call_120", N_("Call 120 if there is no answer or the elder is hurt"))
_CONFIRM = ("confirm_need", N_("Confirm what the elder needs"))
DEFAULT_SCRIPTS: Mapping[str, tuple[tuple[str, str], ...]] = {
    CaseKind.EMERGENCY: (
        _CALL_ELDER,
        _CALL_CONTACT,
        _CALL_120,
        ("note_outcome", N_("Write down what happened")),
    ),
    CaseKind.CARE: (_CALL_ELDER, _CONFIRM, ("offer_volunteer", N_("Offer the task to volunteers"))),
    CaseKind.SERVICE: (_CALL_ELDER, _CONFIRM, ("dispatch_merchant", N_("Dispatch a merchant"))),
    CaseKind.CONSULT: (_CALL_ELDER, _CONFIRM, ("answer", N_("Answer or refer the question"))),
    CaseKind.DEVICE: (
        _CALL_ELDER,
        ("check_terminal", N_("Check the terminal: power, battery, signal")),
        ("send_technician", N_("Send a technician if it stays faulty")),
    ),
}


def _all_languages(text: str) -> dict[str, str]:
    return {lang: t(lang, text) for lang in LANGUAGES}


# -- notes ---------------------------------------------------------------------------------


def add_case_note(
    uow: SqlUnitOfWork, case: Case, *, action: str, text: str, by: str, now: datetime
) -> CaseEvent:
    """A note or a call attempt in the case's history; the state stays as it is."""
    if action not in NOTE_ACTIONS:
        raise InvalidInput(Msg("a note is one of {allowed}", allowed=", ".join(NOTE_ACTIONS)))
    words = text.strip()
    if not words:
        raise InvalidInput(Msg("a note needs some text"))
    return add_note_row(uow, case, action=action, by=by, why=words[:NOTE_MAX], now=now)


def add_handover(session: Session, text: str, *, by: str, now: datetime) -> HandoverNote:
    """A note from this shift to the next one, on the board."""
    words = text.strip()
    if not words:
        raise InvalidInput(Msg("a handover note needs some text"))
    note = HandoverNote(at=now, by=by, text=words[:HANDOVER_MAX])
    session.add(note)
    return note


def recent_handover(session: Session, now: datetime) -> list[HandoverNote]:
    """The handover notes of the last day, newest first."""
    since = now - timedelta(hours=HANDOVER_HOURS)
    query = (
        select(HandoverNote)
        .where(col(HandoverNote.at) >= since)
        .order_by(col(HandoverNote.at).desc(), col(HandoverNote.id).desc())
        .limit(HANDOVER_LIMIT)
    )
    return list(session.exec(query).all())


# -- outcome codes ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """One outcome code and its words per language."""

    code: str
    labels: dict[str, str]


def outcome_codes(session: Session) -> list[Outcome]:
    """The outcome codes in force: the admin's list, else the defaults."""
    rows = session.exec(select(OutcomeCode).order_by(col(OutcomeCode.position))).all()
    if rows:
        return [Outcome(r.code, dict(r.labels)) for r in rows]
    return [Outcome(code, _all_languages(text)) for code, text in DEFAULT_OUTCOMES]


def _labels(where: str, raw: object) -> dict[str, str]:
    if not isinstance(raw, Mapping) or not raw:
        raise InvalidInput(
            Msg("{where}: labels must name the words in at least one language", where=where)
        )
    labels: dict[str, str] = {}
    for lang, text in raw.items():
        if lang not in LANGUAGES:
            raise InvalidInput(
                Msg(
                    "{where}: language {lang} is not one of {allowed}",
                    where=where,
                    lang=lang,
                    allowed=", ".join(LANGUAGES),
                )
            )
        if not isinstance(text, str) or not 0 < len(text.strip()) <= LABEL_MAX:
            raise InvalidInput(
                Msg(
                    "{where}: a label is text of 1 to {most} characters",
                    where=where,
                    most=LABEL_MAX,
                )
            )
        labels[lang] = text.strip()
    return labels


def _code(where: str, raw: object) -> str:
    if not isinstance(raw, str) or not CODE.match(raw):
        raise InvalidInput(
            Msg("{where}: a code is lower-case letters, digits and _ (up to 32)", where=where)
        )
    return raw


def put_outcome_codes(
    session: Session, codes: Sequence[Mapping[str, Any]], *, by: str, now: datetime
) -> list[Outcome]:
    """Replace the outcome codes; codes already recorded on cases keep counting by name."""
    if not codes or len(codes) > MAX_CODES:
        raise InvalidInput(Msg("give 1 to {most} outcome codes", most=MAX_CODES))
    checked = [
        Outcome(_code(f"code {i}", c.get("code")), _labels(f"code {i}", c.get("labels")))
        for i, c in enumerate(codes)
    ]
    if len({o.code for o in checked}) != len(checked):
        raise InvalidInput(Msg("an outcome code is listed twice"))
    for row in session.exec(select(OutcomeCode)).all():
        session.delete(row)
    session.flush()
    for position, outcome in enumerate(checked):
        session.add(
            OutcomeCode(
                code=outcome.code,
                labels=outcome.labels,
                position=position,
                updated_by=by,
                updated_at=now,
            )
        )
    return checked


def reset_outcome_codes(session: Session) -> list[Outcome]:
    """Drop the admin's list: the defaults apply again."""
    for row in session.exec(select(OutcomeCode)).all():
        session.delete(row)
    session.flush()
    return outcome_codes(session)


def record_outcome(
    session: Session, case: Case, code: str, *, by: str, now: datetime
) -> CaseOutcome:
    """Code how the case ended; an unknown code is refused (422) before anything is written."""
    if code not in {o.code for o in outcome_codes(session)}:
        raise InvalidInput(
            Msg("outcome '{code}' is not one of the centre's outcome codes", code=code)
        )
    row = session.get(CaseOutcome, case.id)
    if row is None:
        row = CaseOutcome(case_id=case.id, code=code, by=by, at=now)
    row.code, row.by, row.at = code, by, now
    session.add(row)
    return row


def outcome_of(session: Session, case_id: str) -> CaseOutcome | None:
    """The case's outcome, if it was resolved with one."""
    return session.get(CaseOutcome, case_id)


def outcome_counts(
    session: Session, since: datetime, until: datetime, *, drill: bool = False
) -> dict[str, int]:
    """How many cases opened in `[since, until)` ended with each outcome code."""
    query = (
        select(CaseOutcome.code, func.count())
        .join(Case, col(Case.id) == col(CaseOutcome.case_id))
        .where(col(Case.opened_at) >= since, col(Case.opened_at) < until)
        .where(col(Case.drill).is_(drill))
        .group_by(col(CaseOutcome.code))
    )
    return {code: int(n) for code, n in session.exec(query).all()}


# -- scripted procedures ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScriptStep:
    """One step of a procedure and its words per language."""

    id: str
    labels: dict[str, str]


@dataclass(frozen=True, slots=True)
class Script:
    """The procedure of a case kind on a line ("" for any line)."""

    kind: CaseKind
    line: str
    steps: list[ScriptStep]
    default: bool


def _script_line(line: ServiceLine | str | None) -> str:
    return str(line or "")


def get_script(session: Session, kind: CaseKind, line: ServiceLine | str | None) -> Script:
    """The procedure for a case: the admin's for its line, else for its kind, else the default."""
    for wanted in dict.fromkeys((_script_line(line), "")):
        row = session.get(CaseScript, (kind.value, wanted))
        if row is not None:
            steps = [ScriptStep(s["id"], dict(s["labels"])) for s in row.steps]
            return Script(kind, wanted, steps, default=False)
    steps = [ScriptStep(i, _all_languages(text)) for i, text in DEFAULT_SCRIPTS[kind]]
    return Script(kind, "", steps, default=True)


def put_script(
    session: Session,
    kind: CaseKind,
    line: ServiceLine | None,
    steps: Sequence[Mapping[str, Any]],
    *,
    by: str,
    now: datetime,
) -> Script:
    """Replace the procedure of `kind` on `line` (None: every line without its own)."""
    if not steps or len(steps) > MAX_STEPS:
        raise InvalidInput(Msg("a procedure has 1 to {most} steps", most=MAX_STEPS))
    checked = [
        ScriptStep(_code(f"step {i}", s.get("id")), _labels(f"step {i}", s.get("labels")))
        for i, s in enumerate(steps)
    ]
    if len({s.id for s in checked}) != len(checked):
        raise InvalidInput(Msg("a step id is listed twice"))
    key = (kind.value, _script_line(line))
    row = session.get(CaseScript, key) or CaseScript(kind=key[0], line=key[1], updated_at=now)
    row.steps = [{"id": s.id, "labels": s.labels} for s in checked]
    row.updated_by, row.updated_at = by, now
    session.add(row)
    return Script(kind, key[1], checked, default=False)


def reset_script(session: Session, kind: CaseKind, line: ServiceLine | None) -> None:
    """Drop the admin's procedure of `kind` on `line`."""
    row = session.get(CaseScript, (kind.value, _script_line(line)))
    if row is not None:
        session.delete(row)


def ticked_steps(events: Sequence[CaseEvent]) -> set[str]:
    """The ids of the procedure's steps ticked in a case's history."""
    found = (_TICK.match(e.why) for e in events if e.action == SCRIPT_TICK)
    return {m.group(1) for m in found if m}


def tick_step(
    uow: SqlUnitOfWork, case: Case, step_id: str, *, by: str, now: datetime, language: str
) -> CaseEvent | None:
    """Tick a step of the case's procedure; None when it was ticked already (a double click)."""
    script = get_script(uow.session, CaseKind(case.kind), case.line)
    step = next((s for s in script.steps if s.id == step_id), None)
    if step is None:
        raise InvalidInput(Msg("step '{step_id}' is not in this case's procedure", step_id=step_id))
    done = ticked_steps(
        uow.session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == SCRIPT_TICK)
        ).all()
    )
    if step_id in done:
        return None
    label = step.labels.get(language) or next(iter(step.labels.values()))
    return add_note_row(uow, case, action=SCRIPT_TICK, by=by, why=f"[{step_id}] {label}", now=now)
