"""The audit log: every read of an elder's data by a person, and the admin's view of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from care_api.domain.access import Principal
from care_api.store.tables import AuditLog, Case
from care_api.usecases.cases.queries import Page


@dataclass(frozen=True, slots=True)
class ElderRead:
    """One thing shown of an elder: their profile, contacts, a case, a task, an order."""

    what: str
    elder_id: int
    ref: str | None = None


def record_reads(
    session: Session, principal: Principal, reads: list[ElderRead], *, route: str, now: datetime
) -> None:
    """Add one audit row per read; the caller commits them with its unit of work."""
    for read in reads:
        session.add(
            AuditLog(
                at=now,
                actor=principal.actor,
                role=principal.role,
                token_id=principal.token_id,
                what=read.what,
                ref=read.ref,
                elder_id=read.elder_id,
                route=route,
            )
        )


def elders_of_cases(session: Session, case_ids: set[str]) -> list[int]:
    """The elders the given cases are about, each once, in id order."""
    if not case_ids:
        return []
    found = session.exec(select(Case.elder_id).where(col(Case.id).in_(sorted(case_ids))))
    return sorted(set(found.all()))


def list_audit(
    session: Session, *, elder_id: int | None, actor: str | None, page: Page
) -> list[AuditLog]:
    """Audit rows newest first, of one elder and/or one actor (`role:name`)."""
    query = select(AuditLog)
    if elder_id is not None:
        query = query.where(AuditLog.elder_id == elder_id)
    if actor is not None:
        query = query.where(AuditLog.actor == actor)
    query = query.order_by(col(AuditLog.at).desc(), col(AuditLog.id).desc())
    return list(session.exec(query.offset(page.offset).limit(page.limit)).all())
