"""Info-only contacts: never paged while a case runs, told in one SMS once it closes.

A contact with `notify_only` (a son abroad, a social worker) is left out of every ladder
(escalation.run_step filters them); when a case of their elder closes, each gets a short
summary: what happened, who took it, how it ended. One row per case and contact
("summary:<case>:contact:<id>"), so a replayed event sends nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlmodel import col, select

from alerts.sender import OutboxWriter
from alerts.timers import Dispatch
from care_api.domain.channels import Channel
from care_api.domain.model import CaseState
from care_api.domain.texts import Msg, stored_text
from care_api.i18n import CHINESE, format_time, language_of, t
from care_api.services import Services
from care_api.store.tables import Case, CaseEvent, Contact, Elder
from care_api.usecases.dispatch.responders import describe_actor

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClosedCase:
    """What a closing summary says about a case."""

    case_id: str
    summary: str
    elder_name: str
    opened_at: datetime
    ended: str  # "resolved" | "cancelled"
    ended_at: datetime | None
    taken_by: str | None
    taken_at: datetime | None
    outcome: str  # the resolving or cancelling note


def summary_sms(case: ClosedCase, tz: tzinfo, language: str | None = None) -> str:
    """The SMS an info-only contact gets when the case closes, in their language; pure."""
    lang = language_of(language)

    def at(value: datetime) -> str:
        return format_time(lang, value.astimezone(tz))

    parts = [
        t(
            lang,
            "For your information: case {case} for {elder} is closed.",
            case=case.case_id,
            elder=case.elder_name,
        ),
        t(lang, "{summary}, opened {at}.", summary=case.summary, at=at(case.opened_at)),
    ]
    if case.taken_by is not None and case.taken_at is not None:
        parts.append(t(lang, "Taken by {who} at {at}.", who=case.taken_by, at=at(case.taken_at)))
    if case.ended_at is not None:
        ended = t(lang, "Cancelled") if case.ended == "cancelled" else t(lang, "Resolved")
        if case.outcome:
            parts.append(
                t(
                    lang,
                    "{ended} {at}: {note}.",
                    ended=ended,
                    at=at(case.ended_at),
                    note=case.outcome,
                )
            )
        else:
            parts.append(t(lang, "{ended} {at}.", ended=ended, at=at(case.ended_at)))
    parts.append(t(lang, "No need to reply."))
    # Chinese sentences run on without spaces.
    return ("" if lang == CHINESE else " ").join(parts)


class ClosingSummaries:
    """Writes the closing summary of a case to the elder's info-only contacts."""

    def __init__(self, services: Services, dispatch: Dispatch) -> None:
        self._services = services
        self._dispatch = dispatch

    def notify_closed(self, case_id: str) -> int:
        """Write (then send) one summary SMS per info-only contact; returns how many."""
        with self._services.uow() as uow:
            session = uow.session
            case = session.get(Case, case_id)
            if case is None or case.state != CaseState.CLOSED:
                return 0
            people = session.exec(
                select(Contact).where(
                    col(Contact.elder_id) == case.elder_id, col(Contact.notify_only).is_(True)
                )
            ).all()
            if not people:
                return 0
            history = session.exec(
                select(CaseEvent)
                .where(
                    col(CaseEvent.case_id) == case.id,
                    col(CaseEvent.to_state).in_([CaseState.RESOLVED, CaseState.CANCELLED]),
                )
                .order_by(col(CaseEvent.id).desc())
            ).first()
            elder = session.get(Elder, case.elder_id)
            closed = ClosedCase(
                case_id=case.id,
                summary=stored_text(case.summary, case.summary_msg),
                elder_name=elder.name if elder else Msg("the elder"),
                opened_at=case.opened_at,
                ended=str(history.to_state) if history else "closed",
                ended_at=history.at if history else case.closed_at,
                taken_by=describe_actor(session, case.owner) if case.owner else None,
                taken_at=case.acknowledged_at,
                outcome=stored_text(history.why, history.why_msg) if history else "",
            )
            writer = OutboxWriter(session, self._services.clock.now())
            centre = language_of(self._services.settings.language)
            for person in people:
                lang = language_of(person.language, default=centre)
                writer.add(
                    case_id=case.id,
                    channel=Channel.sms,
                    to=person.phone,
                    recipient=f"contact:{person.id}",
                    body=summary_sms(closed, self._services.tz, lang),
                    key=f"summary:{case.id}:contact:{person.id}",
                    language=lang,
                )
            uow.commit()
        if writer.to_send:
            self._dispatch(writer.to_send)
        log.info("case %s closed: summary to %d info-only contacts", case_id, len(people))
        return len(people)
