"""Read-side queries for the API: case lists and history, the outbox, open-case counts."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from care_api.domain.cases import ACTIVE
from care_api.domain.channels import Channel
from care_api.domain.errors import InvalidInput
from care_api.domain.model import CaseKind, CaseState, ServiceLine
from care_api.domain.texts import Msg
from care_api.store.tables import Case, CaseEvent, Notification

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class Page:
    """Which slice of a newest-first list to return."""

    limit: int = 50
    offset: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_PAGE:
            raise InvalidInput(Msg("limit must be between 1 and {most}", most=MAX_PAGE))
        if self.offset < 0:
            raise InvalidInput(Msg("offset must not be negative"))


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """Conditions on the case list; `elder_ids` None means every elder (staff)."""

    state: CaseState | None = None
    kind: CaseKind | None = None
    elder_id: int | None = None
    elder_ids: Collection[int] | None = None
    line: ServiceLine | None = None


@dataclass(frozen=True, slots=True)
class NotificationFilter:
    """Conditions on the outbox; `elder_ids` None means every elder's messages (staff)."""

    case_id: str | None = None
    status: str | None = None
    channel: str | None = None
    elder_ids: Collection[int] | None = None


def list_cases(session: Session, where: CaseFilter, page: Page) -> list[Case]:
    """Cases matching `where`, newest first."""
    query = select(Case)
    if where.state is not None:
        query = query.where(Case.state == where.state)
    if where.kind is not None:
        query = query.where(Case.kind == where.kind)
    if where.elder_id is not None:
        query = query.where(Case.elder_id == where.elder_id)
    if where.line is not None:
        query = query.where(Case.line == where.line)
    if where.elder_ids is not None:
        query = query.where(col(Case.elder_id).in_(list(where.elder_ids)))
    # The id breaks ties between cases opened in the same instant, so pages never overlap.
    query = query.order_by(col(Case.opened_at).desc(), col(Case.id).desc())
    return list(session.exec(query.offset(page.offset).limit(page.limit)).all())


def case_history(session: Session, case_id: str) -> list[CaseEvent]:
    """Every history row of the case, oldest first."""
    return list(
        session.exec(
            select(CaseEvent)
            .where(CaseEvent.case_id == case_id)
            .order_by(col(CaseEvent.at), col(CaseEvent.id))
        ).all()
    )


def notifications_of_case(session: Session, case_id: str) -> list[Notification]:
    """Every message sent or queued for the case, oldest first."""
    return list(
        session.exec(
            select(Notification)
            .where(Notification.case_id == case_id)
            .order_by(col(Notification.created_at), col(Notification.id))
        ).all()
    )


def list_notifications(
    session: Session, where: NotificationFilter, page: Page
) -> list[Notification]:
    """Messages matching `where`, newest first."""
    query = select(Notification)
    if where.case_id is not None:
        query = query.where(Notification.case_id == where.case_id)
    if where.status is not None:
        query = query.where(Notification.status == where.status)
    if where.channel is not None:
        query = query.where(Notification.channel == where.channel)
    if where.elder_ids is not None:
        # Only messages about cases of these elders; messages without a case are staff-only.
        query = query.join(Case, col(Case.id) == col(Notification.case_id)).where(
            col(Case.elder_id).in_(list(where.elder_ids))
        )
    query = query.order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
    return list(session.exec(query.offset(page.offset).limit(page.limit)).all())


def count_active_cases_by_kind(session: Session) -> dict[CaseKind, int]:
    """How many cases of each kind still need someone; every kind is present, zero or not."""
    counts = dict.fromkeys(CaseKind, 0)
    rows = session.exec(
        select(Case.kind, func.count())
        .where(col(Case.state).in_([str(s) for s in ACTIVE]))
        .group_by(Case.kind)
    ).all()
    for kind, count in rows:
        if kind in counts:
            counts[CaseKind(kind)] = int(count)
    return counts


def sms_segments_by_status(session: Session) -> dict[str, int]:
    """SMS segments written to the outbox, by the messages' delivery status."""
    rows = session.exec(
        select(Notification.status, func.sum(Notification.segments))
        .where(Notification.channel == Channel.sms.value)
        .group_by(Notification.status)
    ).all()
    return {str(status): int(total or 0) for status, total in rows}


# The statuses alerts.throttle gives a message the send bounds stopped for good.
NOTIFICATION_STOPPED_BY_BOUNDS = ("suppressed", "folded")


# Read through ix_notification_status_bounded_by: the few stopped rows, not the outbox.
BOUNDED_NOTIFICATIONS = (
    select(Notification.bounded_by, func.count())
    .where(
        col(Notification.bounded_by).is_not(None),
        col(Notification.status).in_(NOTIFICATION_STOPPED_BY_BOUNDS),
    )
    .group_by(Notification.bounded_by)
)


def count_bounded_notifications(session: Session) -> dict[str, int]:
    """Phone messages the send bounds stopped (suppressed or folded into another), by bound."""
    rows = session.exec(BOUNDED_NOTIFICATIONS).all()
    return {str(bound): int(count) for bound, count in rows}
