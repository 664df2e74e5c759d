"""Volunteer offers: a care case offered ring by ring to the nearest eligible volunteers.

Ring 0 runs with the care ladder's step 0 (in the same transaction), or on a "volunteer_ring"
timer of step 0 when staff ask for offers (POST /cases/{id}/offers), each later ring on a
"volunteer_ring" timer RING_WAIT_S after the previous one, or at once when every offer of
the ring was declined. After the last ring the operator is told and the board flagged.
Offers are ladder-keyed alerts ("ladder:<case>:ring<n>:volunteer:<id>:sms"), so an SMS "1"
finds them, a retry after the case was taken is skipped, and everyone offered is told
when the case is taken or cancelled.

`nearest` is the ladder's "volunteers_nearest" audience (the emergency ladder's step 1).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from sqlmodel import Session, col, select

from alerts.escalation import OPERATORS, case_facts
from alerts.ladder import Recipient
from alerts.replies import short_code
from alerts.sender import ALERT_KEY_PREFIX
from alerts.timers import TimerBusy, TimerContext, TimerHandler
from care_api.domain.cases import is_unowned
from care_api.domain.channels import Channel
from care_api.domain.model import CaseKind, TimerPurpose
from care_api.domain.texts import Msg
from care_api.domain.volunteering import (
    EMERGENCY_RADIUS_KM,
    OFFERS_PER_RING,
    RING_WAIT_S,
    Offeree,
    ring_radius_km,
)
from care_api.i18n import language_of, render
from care_api.services import Services
from care_api.store.tables import Case, Elder, Timer, Volunteer
from care_api.usecases.cases.ladders import CONSOLE, Target
from care_api.usecases.dispatch.offers import (
    Need,
    expire_open_offers,
    fall_to_operator,
    has_open_offers,
    may_have_open_offers,
    need_of,
    offered_volunteers,
    record_offers,
    withdraw_open_offers,
)
from care_api.usecases.dispatch.volunteers import (
    nearest_volunteers,
    volunteer_actor,
)

log = logging.getLogger(__name__)


def offer_text(case_id: str, distance_km: float, need: str) -> str:
    """The SMS that offers a care task; the elder's name and address come with acceptance."""
    code = short_code(case_id)
    return Msg(
        "Care task {code} near you ({km} km): {need}. Reply 1 {code} to take it, "
        "2 {code} if you cannot.",
        code=code,
        km=f"{distance_km:.1f}",
        need=need,
    )


def operator_text(case: Case, elder: Elder | None, why: str) -> str:
    """The console line when no volunteer took the case."""
    facts = case_facts(case, elder)
    return Msg(
        "{summary}: {elder}, {address} ({case}); {why}",
        summary=facts.summary,
        elder=facts.elder_name,
        address=facts.address,
        case=case.id,
        why=why,
    )


class VolunteerOffers:
    """The "volunteer_ring" timer handler, the ring-0 hook on the ladder, and the audience."""

    def __init__(self, services: Services) -> None:
        self._services = services

    # -- the ladder's "volunteers_nearest" audience ------------------------------------------

    def nearest(
        self, session: Session, case: Case, elder: Elder, target: Target
    ) -> Sequence[Recipient]:
        """Active volunteers available now near the elder, nearest first."""
        if elder.lat is None or elder.lon is None:
            log.info("case %s: elder %s has no location for volunteers", case.id, elder.id)
            return ()
        local_now = self._services.clock.now().astimezone(self._services.tz)
        found = nearest_volunteers(
            session,
            lat=elder.lat,
            lon=elder.lon,
            local_now=local_now,
            radius_km=EMERGENCY_RADIUS_KM,
        )
        centre = self._services.settings.language
        return [
            Recipient(
                volunteer_actor(o.volunteer_id), v.name, v.phone, 1, language_of(v.language, centre)
            )
            for v, o in found
        ]

    @staticmethod
    def why_nobody(elder: Elder) -> str:
        """Why `nearest` found nobody for this elder, as the console and history say it."""
        if elder.lat is None or elder.lon is None:
            return Msg("no volunteer: the elder's location is not on record")
        return Msg("no volunteer within {km} km", km=f"{EMERGENCY_RADIUS_KM:g}")

    # -- rings ---------------------------------------------------------------------------------

    def after_ladder(self, run_step: TimerHandler) -> TimerHandler:
        """The ladder handler, followed on a care case's step 0 by the first ring of offers."""

        def handle(ctx: TimerContext, timer: Timer) -> None:
            run_step(ctx, timer)
            if timer.step == 0 and timer.case_id is not None:
                self._begin(ctx, timer.case_id)

        return handle

    def _begin(self, ctx: TimerContext, case_id: str) -> None:
        case = ctx.uow.session.get(Case, case_id)
        if case is None or case.kind != CaseKind.CARE or not is_unowned(case.state):
            return
        if offered_volunteers(ctx.uow.session, case.id):
            return  # a replayed step 0 must not offer twice
        self._offer_from(ctx, case, ring=0)

    def run_ring(self, ctx: TimerContext, timer: Timer) -> None:
        """Widen the circle: offer ring `timer.step`, or after the last one tell the operator."""
        if timer.case_id is None:
            log.warning("volunteer ring timer %s has no case", timer.id)
            return
        session = ctx.uow.session
        case = session.exec(
            select(Case).where(col(Case.id) == timer.case_id).with_for_update(skip_locked=True)
        ).first()
        if case is None:
            if session.get(Case, timer.case_id) is not None:
                raise TimerBusy(timer.case_id)  # someone is accepting it right now
            return
        if case.kind != CaseKind.CARE or not is_unowned(case.state):
            return
        if timer.step == 0 and has_open_offers(session, case.id):
            return  # staff asked while the ladder's step 0 was offering it: once is enough
        expire_open_offers(session, case.id, ctx.now)
        self._offer_from(ctx, case, ring=timer.step)

    def _offer_from(self, ctx: TimerContext, case: Case, *, ring: int) -> None:
        session = ctx.uow.session
        elder = session.get(Elder, case.elder_id)
        need = need_of(session, case)
        tried = offered_volunteers(session, case.id)
        local_now = ctx.now.astimezone(self._services.tz)
        while (radius := ring_radius_km(ring)) is not None:
            if elder is None or elder.lat is None or elder.lon is None:
                self._to_operator(ctx, case, elder, ring, Msg("the elder has no location on file"))
                return
            found = nearest_volunteers(
                session,
                lat=elder.lat,
                lon=elder.lon,
                local_now=local_now,
                radius_km=radius,
                skill=need.skill,
                exclude=tried,
            )[:OFFERS_PER_RING]
            if found:
                self._send(ctx, case, ring, radius, found, need)
                return
            ring += 1  # nobody new in this circle: widen at once rather than wait for nobody
        self._to_operator(ctx, case, elder, ring, Msg("no volunteer took it: please arrange help"))

    def _send(
        self,
        ctx: TimerContext,
        case: Case,
        ring: int,
        radius: float,
        found: Sequence[tuple[Volunteer, Offeree]],
        need: Need,
    ) -> None:
        tasks = record_offers(
            ctx.uow, case, ring=ring, radius_km=radius, chosen=found, need=need, now=ctx.now
        )
        phones = {v.id: v.phone for v, _ in found}
        centre = language_of(self._services.settings.language)
        languages = {v.id: language_of(v.language, centre) for v, _ in found}
        key = f"{ALERT_KEY_PREFIX}{case.id}:ring{ring}:{{}}:sms"
        keys = {t.volunteer_id: key.format(volunteer_actor(t.volunteer_id)) for t in tasks}
        ctx.outbox.expect(keys.values())  # whether any went out already: one query, not one each
        for task in tasks:
            who = volunteer_actor(task.volunteer_id)
            lang = languages[task.volunteer_id]
            ctx.outbox.add(
                case_id=case.id,
                channel=Channel.sms,
                to=phones[task.volunteer_id],
                recipient=who,
                body=render(lang, offer_text(case.id, task.distance_km, need.need)),
                key=keys[task.volunteer_id],
                language=lang,
            )
        ctx.schedule(
            purpose=TimerPurpose.VOLUNTEER_RING,
            case_id=case.id,
            step=ring + 1,
            due_at=ctx.now + timedelta(seconds=RING_WAIT_S),
        )
        log.info("case %s ring %d: offered to %d volunteer(s)", case.id, ring, len(tasks))

    def _to_operator(
        self, ctx: TimerContext, case: Case, elder: Elder | None, ring: int, why: str
    ) -> None:
        fall_to_operator(ctx.uow, case, ring=ring, why=why, now=ctx.now)
        ctx.outbox.add(
            case_id=case.id,
            channel=CONSOLE,
            to=OPERATORS,
            recipient=OPERATORS,
            body=operator_text(case, elder, why),
            key=f"offers:{case.id}:operator",
        )
        log.info("case %s: no volunteer after %d ring(s); operator told", case.id, ring)

    # -- withdrawal ----------------------------------------------------------------------------

    def withdraw(self, case_id: str) -> int:
        """Withdraw the case's open offers (it was taken or ended); returns how many."""
        with self._services.engine.connect() as conn:
            if not may_have_open_offers(conn, case_id):
                return 0  # nearly always: no session for nothing
        with self._services.uow() as uow:
            count = withdraw_open_offers(uow.session, case_id, self._services.clock.now())
            if count:
                uow.commit()
        return count
