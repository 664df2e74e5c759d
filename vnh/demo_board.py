"""What `vnh demo` shows, in the centre's language: a live board, or a line per event.

A live board draws nothing when the output goes to a file or a pipe: there the demo prints
each new case, each move of a case and each new message as a line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from sqlmodel import Session, col, select

from care_api.domain.texts import N_, state_word, stored_text, term
from care_api.i18n import render, t
from care_api.store.tables import Case, Elder, Notification

BOARD_CASES = 12
BOARD_NOTES = 10
BODY_CHARS = 70
# A message's delivery status, as the console says it (its `delivery.*` words).
DELIVERY = {
    word: word
    for word in (
        N_("pending"),
        N_("sending"),
        N_("queued"),
        N_("sent"),
        N_("delivered"),
        N_("undelivered"),
        N_("failed"),
        N_("skipped"),
    )
}


@dataclass(frozen=True)
class CaseLine:
    """A case as the demo shows it."""

    id: str
    kind: str
    state: str
    title: str  # said in the reader's language
    elder: str
    owner: str | None
    level: int
    opened_at: datetime


@dataclass(frozen=True)
class NoteLine:
    """A message of the outbox as the demo shows it."""

    id: int
    case_id: str | None
    channel: str
    to: str
    status: str
    body: str  # said in the reader's language (a console row) or as the person reads it


def read_board(
    session: Session, language: str, *, cases: int = BOARD_CASES, notes: int = BOARD_NOTES
) -> tuple[list[CaseLine], list[NoteLine]]:
    """The newest cases and messages, newest first, their server texts in `language`."""
    rows = session.exec(select(Case).order_by(col(Case.opened_at).desc()).limit(cases)).all()
    elder_ids = {c.elder_id for c in rows}
    names = {e.id: e.name for e in session.exec(select(Elder).where(col(Elder.id).in_(elder_ids)))}
    messages = session.exec(
        select(Notification).order_by(col(Notification.id).desc()).limit(notes)
    ).all()
    return (
        [
            CaseLine(
                id=c.id,
                kind=str(c.kind),
                state=str(c.state),
                title=render(language, stored_text(c.summary, c.summary_msg)),
                elder=names.get(c.elder_id, "?"),
                owner=c.owner,
                level=c.level,
                opened_at=c.opened_at,
            )
            for c in rows
        ],
        [
            NoteLine(
                id=n.id or 0,
                case_id=n.case_id,
                channel=n.channel,
                to=n.to,
                status=n.status,
                body=render(language, stored_text(n.body, n.body_msg)),
            )
            for n in messages
        ],
    )


def _word(language: str, word: str) -> str:
    return render(language, term(word))


def _age(language: str, seconds: float) -> str:
    return t(language, "{seconds} s", seconds=f"{seconds:.0f}")


def board(
    language: str,
    header: str,
    cases: list[CaseLine],
    notes: list[NoteLine],
    now: datetime,
) -> Group:
    """The live board: the header, the cases and the outbox."""
    case_table = Table(title=t(language, "Cases (newest first)"), expand=True)
    for column in ("case", "elder", "what", "state", "owner", "step", "age"):
        case_table.add_column(t(language, column))
    for c in cases:
        waiting = c.kind == "emergency" and c.state in ("open", "escalated")
        case_table.add_row(
            c.id,
            c.elder,
            c.title,
            render(language, state_word(c.state)),
            c.owner or "-",
            str(c.level),
            _age(language, (now - c.opened_at).total_seconds()),
            style="bold red" if waiting else "",
        )
    note_table = Table(title=t(language, "Messages (outbox)"), expand=True)
    for column in ("#", "case", "channel", "to", "status", "message"):
        note_table.add_column(t(language, column) if column != "#" else column)
    for n in notes:
        note_table.add_row(
            str(n.id),
            n.case_id or "-",
            _word(language, n.channel),
            _word(language, n.to),
            t(language, n.status) if n.status in DELIVERY else n.status,
            n.body[:BODY_CHARS],
        )
    return Group(
        Panel(header, title=t(language, "Virtual nursing home: demo")), case_table, note_table
    )


class Feed:
    """The board as lines for a file or a pipe: each event once, oldest first."""

    def __init__(self, language: str, tz: tzinfo) -> None:
        self.language = language
        self.tz = tz
        self._states: dict[str, tuple[str, str | None]] = {}
        self._last_note = 0

    def lines(self, cases: list[CaseLine], notes: list[NoteLine], now: datetime) -> list[str]:
        """What happened since the last call, oldest first."""
        lang = self.language
        clock = now.astimezone(self.tz).strftime("%H:%M:%S")
        out: list[str] = []
        for c in reversed(cases):
            seen = self._states.get(c.id)
            if seen == (c.state, c.owner):
                continue
            self._states[c.id] = (c.state, c.owner)
            if seen is None:
                out.append(
                    t(
                        lang,
                        "{time} case {case}: {title}, {elder}, {state}",
                        time=clock,
                        case=c.id,
                        title=c.title,
                        elder=c.elder,
                        state=state_word(c.state),
                    )
                )
            else:
                out.append(
                    t(
                        lang,
                        "{time} case {case} is now {state} ({owner})",
                        time=clock,
                        case=c.id,
                        state=state_word(c.state),
                        owner=c.owner or "-",
                    )
                )
        for n in reversed(notes):
            if n.id <= self._last_note:
                continue
            self._last_note = n.id
            out.append(
                t(
                    lang,
                    "{time} {channel} to {to}: {body}",
                    time=clock,
                    channel=term(n.channel),
                    to=term(n.to),
                    body=n.body[:BODY_CHARS],
                )
            )
        return out
