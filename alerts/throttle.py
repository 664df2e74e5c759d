"""The send bounds applied to a claimed notification row: counts, folds and history notes.

The sender asks `SendBounds.check` about every phone message it claimed, in the claim's
transaction. The counts are of rows by `sent_at` (when a message was handed to the
provider), so every process sharing the database counts the same messages. A message held
back leaves a line in its case's history and keeps the bound's name in `bounded_by`, which
`/metrics` counts.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import Integer, bindparam, cast, func, literal, null, or_, union_all
from sqlalchemy import case as when
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import CompoundSelect
from sqlmodel import Session, col, select

from alerts.bounds import (
    HOUR_S,
    MINUTE_S,
    SEND,
    Bound,
    Decision,
    Outgoing,
    Recent,
    SendLimits,
    Verdict,
    judge,
)
from alerts.ladder import folded_prefix
from care_api.domain.channels import Channel
from care_api.domain.model import CaseKind
from care_api.domain.texts import Msg
from care_api.settings import Settings
from care_api.store.arrays import Pair, one_of
from care_api.store.tables import Case, Elder, Notification
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.log import add_note

log = logging.getLogger(__name__)

# Statuses of rows the bounds kept back (care_api.usecases.cases.queries counts the last two).
HELD = "held"  # an emergency alert waiting for its fold window to end
SUPPRESSED = "suppressed"  # over an hourly bound: never sent
FOLDED = "folded"  # merged into a later alert to the same person about the same elder
UNSENT_BY_BOUNDS = (HELD, SUPPRESSED, FOLDED)
BY = "system:send-bounds"
MAX_TEXT_CHARS = 1600  # the notification row's body and say columns
HELD_NOTE = "alert_held"
SUPPRESSED_NOTE = "message_suppressed"
FOLDED_NOTE = "alert_folded"


def limits_from_settings(settings: Settings) -> SendLimits:
    """The bounds as the VNH_SEND_* settings set them."""
    return SendLimits(
        per_case_per_hour=settings.send_max_per_case_per_hour,
        per_person_per_hour=settings.send_max_per_person_per_hour,
        per_terminal_per_hour=settings.send_max_per_terminal_per_hour,
        overall_per_minute=settings.send_max_per_minute,
        emergency_fold_s=settings.emergency_fold_s,
        sms_per_second=settings.twilio_sms_per_s,
    )


class SendBounds:
    """Decides, for a claimed row, whether it goes now; records what it held back."""

    def __init__(self, limits: SendLimits, tz: tzinfo, alert_key_prefix: str) -> None:
        self.limits = limits
        self._tz = tz
        self._alert_prefix = alert_key_prefix

    def check(
        self,
        uow: SqlUnitOfWork,
        row: Notification,
        case: Case | None,
        message: Outgoing,
        now: datetime,
        *,
        counted: tuple[Recent, bool] | None = None,
    ) -> Decision:
        """Judge `row` and apply the verdict to it (and to the alerts it folds); not committed.

        `counted`: its counts, from a batch's `Tally` (no query then).
        """
        session = uow.session
        recent, others = counted or self._recent(session, row, case, message, now)
        decision = judge(message, recent, self.limits, now)
        if decision.verdict is Verdict.SEND:
            # Nothing to fold, nothing to count (no other alert of the elder's lately, and
            # this row was never held): the usual first alert skips four queries.
            if message.foldable and case is not None and (others or row.bounded_by == Bound.FOLD):
                self._fold_into(uow, row, case, now)
            row.sent_at = now
        elif decision.verdict is Verdict.HOLD and case is not None:
            self._hold(uow, row, case, decision, now)
        elif decision.verdict is Verdict.SUPPRESS:
            row.status = SUPPRESSED
            row.bounded_by = decision.bound
            row.next_attempt_at = None
            row.detail = f"suppressed ({decision.bound}): {decision.why}"
            if case is not None:
                why = Msg(
                    "{message} not sent: {why} (bound {bound})",
                    message=_message(row),
                    why=decision.why,
                    bound=decision.bound,
                )
                add_note(uow, case, action=SUPPRESSED_NOTE, by=BY, why=why, now=now)
            log.info("notification %s suppressed by %s: %s", row.id, decision.bound, decision.why)
        elif decision.verdict is Verdict.WAIT:
            row.status = "pending"
            row.next_attempt_at = decision.at
            row.detail = f"waiting ({decision.bound}): {decision.why}"
        else:  # pragma: no cover - a hold always has its case
            return SEND
        session.add(row)
        return decision

    # -- counts ------------------------------------------------------------------------------

    def tally(
        self, session: Session, rows: Sequence[tuple[Notification, Case | None]], now: datetime
    ) -> Tally:
        """The counts of a batch of claimed rows, in two queries for all of them."""
        hour = now - timedelta(seconds=HOUR_S)
        minute = now - timedelta(seconds=MINUTE_S)
        since = min(hour, now - timedelta(seconds=self.limits.emergency_fold_s))
        tally = Tally(hour=hour, minute=minute, since=since, prefix=self._alert_prefix)
        tos = sorted({r.to for r, _ in rows})
        cases = sorted({r.case_id for r, _ in rows if r.case_id is not None})
        devices = sorted({c.device_id for _, c in rows if c is not None and c.device_id})
        elders = sorted({c.elder_id for _, c in rows if c is not None})
        # Empty lists stand in for "none": an expanding IN () matches nothing. The counts
        # and the other alerts come in one statement: a round trip less in every claim.
        for line, to, case_id, device_id, elder_id, n in session.execute(
            _TALLY.on(session),
            {
                "tos": tos,
                "cases": cases,
                "devices": devices,
                "elders": elders,
                "hour": hour,
                "minute": minute,
                "kind": CaseKind.EMERGENCY.value,
                "alerts": f"{self._alert_prefix}%",
                "held": HELD,
                "since": since,
            },
        ).all():
            if line == _OVERALL_LINE:
                tally.overall = int(n)
            elif line == _ALERTED_LINE:
                tally.alerted.add((to, elder_id, case_id))
            else:
                tally.to[to] += n
                if case_id is not None:
                    tally.case[case_id] += n
                if device_id is not None:
                    tally.device[device_id] += n
        return tally

    def _recent(
        self,
        session: Session,
        row: Notification,
        case: Case | None,
        message: Outgoing,
        now: datetime,
    ) -> tuple[Recent, bool]:
        """The bounds' counts, and whether other alerts of the elder may need folding."""
        # One statement, built once, counts all four bounds over the hour's sent rows (the
        # minute lies inside it); a missing case or terminal matches nothing and counts 0.
        # Its fifth column looks for other alerts to fold: an elder without one (nearly
        # always) then needs none of the folding queries.
        foldable = message.foldable and case is not None
        hour = now - timedelta(seconds=HOUR_S)
        window = now - timedelta(seconds=self.limits.emergency_fold_s)
        found = session.execute(
            _RECENT,
            {
                "to": row.to,
                "case_id": row.case_id,
                "device_id": case.device_id if case is not None else None,
                "hour": hour,
                "minute": now - timedelta(seconds=MINUTE_S),
                "elder_id": case.elder_id if foldable and case is not None else None,
                "kind": CaseKind.EMERGENCY.value,
                "alerts": f"{self._alert_prefix}%",
                "held": HELD,
                "since": min(hour, window),
            },
        ).one()
        to_person, about_case, from_terminal, overall, others = (int(c or 0) for c in found)
        other_alert_at = None
        if others and foldable and case is not None and self.limits.emergency_fold_s > 0:
            other_alert_at = self._last_other_alert(session, row, case, since=window)
        return Recent(to_person, about_case, from_terminal, overall, other_alert_at), bool(others)

    def _elders_alerts(self, row: Notification, case: Case) -> list[ColumnElement[bool]]:
        """Ladder alerts to the same number about the elder's emergencies other than `case`."""
        n = Notification
        return [
            col(n.to) == row.to,
            col(n.idempotency_key).startswith(self._alert_prefix),
            col(n.case_id) != case.id,
            col(Case.elder_id) == case.elder_id,
            col(Case.kind) == CaseKind.EMERGENCY,
        ]

    def _last_other_alert(
        self, session: Session, row: Notification, case: Case, *, since: datetime
    ) -> datetime | None:
        n = Notification
        found = session.exec(
            select(func.max(n.sent_at))
            .join(Case, col(Case.id) == col(n.case_id))
            .where(col(n.sent_at) >= since, *self._elders_alerts(row, case))
        ).one()
        return found

    # -- folding -----------------------------------------------------------------------------

    def _held_siblings(self, session: Session, row: Notification, case: Case) -> list[Notification]:
        n = Notification
        return list(
            session.exec(
                select(n)
                .join(Case, col(Case.id) == col(n.case_id))
                .where(
                    col(n.status) == HELD,
                    col(n.channel) == row.channel,
                    col(n.id) != row.id,
                    *self._elders_alerts(row, case),
                )
            ).all()
        )

    def _fold_siblings(
        self, uow: SqlUnitOfWork, row: Notification, case: Case, now: datetime
    ) -> None:
        # The elder has one emergency running at a time (a press joins the open one), so a
        # held alert of an older case is about one that ended: the newer alert covers it.
        for older in self._held_siblings(uow.session, row, case):
            older.status = FOLDED
            older.next_attempt_at = None
            older.detail = f"folded into notification {row.id} (case {case.id})"
            uow.session.add(older)
            older_case = uow.session.get(Case, older.case_id) if older.case_id else None
            if older_case is not None:
                why = Msg(
                    "{message} folded into the alert of case {case}",
                    message=_message(older),
                    case=case.id,
                )
                add_note(uow, older_case, action=FOLDED_NOTE, by=BY, why=why, now=now)

    def _hold(
        self, uow: SqlUnitOfWork, row: Notification, case: Case, decision: Decision, now: datetime
    ) -> None:
        self._fold_siblings(uow, row, case, now)
        at = decision.at or now
        local = at.astimezone(self._tz).strftime("%H:%M:%S")
        row.status = HELD
        row.bounded_by = Bound.FOLD
        row.next_attempt_at = at
        row.detail = f"held until {local}: {decision.why}"
        why = Msg(
            "{message} held until {at}: {why}", message=_message(row), at=local, why=decision.why
        )
        add_note(uow, case, action=HELD_NOTE, by=BY, why=why, now=now)
        log.info("notification %s held until %s: %s", row.id, at.isoformat(), decision.why)

    def _fold_into(self, uow: SqlUnitOfWork, row: Notification, case: Case, now: datetime) -> None:
        """Fold held alerts into `row`; when it carries others, say how many and since when."""
        self._fold_siblings(uow, row, case, now)
        session = uow.session
        n = Notification
        last = self._last_other_alert(session, row, case, since=now - timedelta(seconds=HOUR_S))
        since = last or now - timedelta(seconds=HOUR_S)
        others = session.exec(
            select(func.count())
            .select_from(n)
            .join(Case, col(Case.id) == col(n.case_id))
            .where(
                col(n.bounded_by) == Bound.FOLD,
                col(n.channel) == row.channel,
                col(n.created_at) > since,
                *self._elders_alerts(row, case),
            )
        ).one()
        if not others and row.bounded_by != Bound.FOLD:
            return
        elder = session.get(Elder, case.elder_id)
        name = elder.name if elder is not None else "the elder"
        since_local = since.astimezone(self._tz).strftime("%H:%M")
        prefix = folded_prefix(name, others + 1, since_local, row.language)
        row.body = f"{prefix}{row.body}"[:MAX_TEXT_CHARS]
        if row.say is not None:
            row.say = f"{prefix}{row.say}"[:MAX_TEXT_CHARS]


@dataclass
class Tally:
    """A batch's counts for the send bounds, read once and kept up to date as rows are judged.

    It answers as `SendBounds._recent` would for each row in turn, the rows judged before it
    counted, until a row may fold others: that one and the rest are counted by the database.
    """

    hour: datetime
    minute: datetime
    since: datetime  # the earlier of the hour and the fold window
    prefix: str  # of the ladder alerts' keys
    to: Counter[str] = field(default_factory=Counter)
    case: Counter[str] = field(default_factory=Counter)
    device: Counter[str] = field(default_factory=Counter)
    overall: int = 0
    # (to, elder, case) of every ladder alert about an emergency `_OTHERS` would find.
    alerted: set[tuple[str, int, str | None]] = field(default_factory=set)
    exact: bool = True  # False from the first row counted by the database on

    def counted(
        self, row: Notification, case: Case | None, message: Outgoing
    ) -> tuple[Recent, bool] | None:
        """`row`'s counts, as `_recent` gives them; None when the database must count them."""
        if not self.exact:
            return None
        elder = case.elder_id if message.foldable and case is not None else None
        others = elder is not None and any(
            to == row.to and e == elder and c != row.case_id for to, e, c in self.alerted
        )
        if others or row.bounded_by == Bound.FOLD:
            # Folding reads and changes other rows: counted by the database from here on.
            self.exact = False
            return None
        recent = Recent(
            self.to[row.to],
            self.case[row.case_id] if row.case_id is not None else 0,
            self.device[case.device_id] if case is not None and case.device_id else 0,
            self.overall,
            None,
        )
        return recent, False

    def judged(self, row: Notification, case: Case | None, sent_before: datetime | None) -> None:
        """Count `row` as its judgement left it (its `sent_at` was `sent_before`)."""
        after = row.sent_at
        in_hour = _entered(sent_before, after, self.hour)
        if in_hour:
            self.to[row.to] += in_hour
            if row.case_id is not None:
                self.case[row.case_id] += in_hour
            if case is not None and case.device_id:
                self.device[case.device_id] += in_hour
        self.overall += _entered(sent_before, after, self.minute)
        key = row.idempotency_key or ""
        if (
            case is not None
            and case.kind == CaseKind.EMERGENCY
            and key.startswith(self.prefix)
            and (row.status == HELD or (after is not None and after >= self.since))
        ):
            self.alerted.add((row.to, case.elder_id, row.case_id))


def _entered(before: datetime | None, after: datetime | None, since: datetime) -> int:
    """+1 when a judgement put a row's `sent_at` in the window from `since`, -1 out, else 0."""
    return int(after is not None and after >= since) - int(before is not None and before >= since)


def _tally(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """A count of the rows meeting `condition`, as a column of one aggregate query."""
    return func.coalesce(func.sum(when((condition, 1), else_=0)), 0)


_OTHER = aliased(Notification)
_OTHER_CASE = aliased(Case)
# An alert of another emergency that may still fold: a ladder alert of the same kind, held,
# or sent or written since `since`. `_OTHERS` asks it for one row, `_ALERTED` for a batch.
_FOLDABLE = (
    col(_OTHER.idempotency_key).like(bindparam("alerts")),
    col(_OTHER_CASE.kind) == bindparam("kind"),
    or_(
        col(_OTHER.status) == bindparam("held"),
        col(_OTHER.sent_at) >= bindparam("since"),
        col(_OTHER.created_at) > bindparam("since"),
    ),
)
# Any ladder alert to the same number about another emergency of the elder that is held, or
# was sent or written since the earlier of the hour and the fold window: `_elders_alerts`
# with every row `_last_other_alert`, `_held_siblings` and `_fold_into` could find.
_OTHERS = (
    select(_OTHER.id)
    .join(_OTHER_CASE, col(_OTHER_CASE.id) == col(_OTHER.case_id))
    .where(
        col(_OTHER.to) == bindparam("to"),
        col(_OTHER.case_id) != bindparam("case_id"),
        col(_OTHER_CASE.elder_id) == bindparam("elder_id"),
        *_FOLDABLE,
    )
    .exists()
)
_N = Notification
# SQLAlchemy's own select: SQLModel's types stop at four columns.
_RECENT = (
    sa_select(
        _tally(col(_N.to) == bindparam("to")),
        _tally(col(_N.case_id) == bindparam("case_id")),
        _tally(col(Case.device_id) == bindparam("device_id")),
        _tally(col(_N.sent_at) >= bindparam("minute")),
        when((_OTHERS, 1), else_=0),
    )
    .select_from(_N)
    .outerjoin(Case, col(Case.id) == col(_N.case_id))
    .where(col(_N.sent_at) >= bindparam("hour"))
)


# A batch's counts (`SendBounds.tally`), each line said by its first column: the hour's rows
# to its numbers, about its cases or from its terminals, grouped; one line of every row sent
# in the minute; and the batch's other alerts to fold (`_OTHERS`, for all its numbers and
# elders at once), one line each.
_COUNTS_LINE, _OVERALL_LINE, _ALERTED_LINE = 0, 1, 2
_NO_ELDER = cast(null(), Integer)
_TallyRow = tuple[int, str | None, str | None, str | None, int | None, int]


def _tally_of(pg: bool) -> CompoundSelect[_TallyRow]:
    return union_all(
        sa_select(
            literal(_COUNTS_LINE),
            col(_N.to),
            col(_N.case_id),
            col(Case.device_id),
            _NO_ELDER,
            func.count(),
        )
        .select_from(_N)
        .outerjoin(Case, col(Case.id) == col(_N.case_id))
        .where(
            col(_N.sent_at) >= bindparam("hour"),
            or_(
                one_of(col(_N.to), "tos", postgres=pg),
                one_of(col(_N.case_id), "cases", postgres=pg),
                one_of(col(Case.device_id), "devices", postgres=pg),
            ),
        )
        .group_by(col(_N.to), col(_N.case_id), col(Case.device_id)),
        sa_select(literal(_OVERALL_LINE), null(), null(), null(), _NO_ELDER, func.count())
        .select_from(_N)
        .where(col(_N.sent_at) >= bindparam("minute")),
        sa_select(
            literal(_ALERTED_LINE),
            col(_OTHER.to),
            col(_OTHER.case_id),
            null(),
            col(_OTHER_CASE.elder_id),
            literal(0),
        )
        .join(_OTHER_CASE, col(_OTHER_CASE.id) == col(_OTHER.case_id))
        .where(
            one_of(col(_OTHER.to), "tos", postgres=pg),
            one_of(col(_OTHER_CASE.elder_id), "elders", postgres=pg),
            *_FOLDABLE,
        )
        .distinct(),
    )


# One text on PostgreSQL whatever the batch's size (`one_of`).
_TALLY = Pair(_tally_of)


def _message(row: Notification) -> str:
    if row.channel == Channel.voice:
        return Msg("call to {who}", who=row.recipient or row.to)
    return Msg("{channel} to {who}", channel=row.channel.upper(), who=row.recipient or row.to)
