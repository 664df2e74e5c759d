"""Merchant dispatch in motion: the order SMS, the 10-minute contact deadline, merchants' replies.

care_api's `place_order` / `miss_contact` choose the merchant and write the turn with two
timers keyed by its id: "merchant_notify" (due at once: send the order) and
"merchant_contact" (due 10 minutes later: no contact confirmed, the order moves on and the
skipped merchant's record shows the miss). A merchant answers by API or by SMS: "1"
confirms contact, "2" passes the order on.
"""

from __future__ import annotations

import logging

from sqlalchemy import bindparam
from sqlmodel import col, select

from alerts.escalation import OPERATORS
from alerts.replies import Answer, Reply, matches_case, short_code
from alerts.timers import TimerContext
from care_api.domain.channels import Channel
from care_api.domain.errors import DomainError
from care_api.domain.texts import Field, Msg
from care_api.services import Services
from care_api.store.tables import Case, Elder, Merchant, ServiceOrder, Timer
from care_api.usecases.cases.ladders import CONSOLE
from care_api.usecases.dispatch.merchants import merchant_actor
from care_api.usecases.dispatch.orders import (
    confirm_contact,
    current_attempt,
    decline_order,
    miss_contact,
)
from care_api.usecases.people.languages import worded_for

log = logging.getLogger(__name__)


def order_text(order: ServiceOrder, elder: Elder | None) -> str:
    """The SMS that gives a merchant an order: whom to serve and where, never medical notes."""
    code = short_code(order.case_id)
    who = (
        Msg(
            "{elder}, {address}, phone {phone}",
            elder=elder.name,
            address=elder.address,
            phone=elder.phone,
        )
        if elder
        else Msg("see the centre")
    )
    fields: dict[str, Field] = {
        "order": order.id,
        "category": order.category,
        "code": code,
        "who": who,
    }
    if order.note:
        return Msg(
            "New order {order} ({category}), code {code}: {who}. Note: {note}. "
            "Call the elder within 10 minutes, then reply 1 {code} (2 {code} if you cannot).",
            note=order.note,
            **fields,
        )
    return Msg(
        "New order {order} ({category}), code {code}: {who}. "
        "Call the elder within 10 minutes, then reply 1 {code} (2 {code} if you cannot).",
        **fields,
    )


def moved_text(order: ServiceOrder) -> str:
    """What a merchant is told when the order left them for want of a confirmed contact."""
    return Msg(
        "Order {order} ({code}) has gone to another merchant: "
        "contact with the elder was not confirmed within 10 minutes.",
        order=order.id,
        code=short_code(order.case_id),
    )


# Built once: each SMS from a merchant looks for the orders waiting for their contact.
_WAITING = (
    select(ServiceOrder)
    .where(
        col(ServiceOrder.merchant_id).in_(bindparam("merchants", expanding=True)),
        col(ServiceOrder.status) == "assigned",
    )
    .order_by(col(ServiceOrder.id))
)


# The merchant an order goes to, its case and the case's elder (`MerchantDispatch.notify`).
_MERCHANT_CASE_ELDER = (
    select(Merchant, Case, Elder)
    .select_from(Case)
    .join(Merchant, col(Merchant.id) == bindparam("merchant_id"))
    .outerjoin(Elder, col(Elder.id) == col(Case.elder_id))
    .where(col(Case.id) == bindparam("case_id"))
)


class MerchantDispatch:
    """Timer handlers for merchant turns, and the SMS answers merchants give."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def notify(self, ctx: TimerContext, timer: Timer) -> None:
        """Send the order to the merchant whose turn it is (the "merchant_notify" handler)."""
        session = ctx.uow.session
        found = current_attempt(session, timer.step)
        if found is None:
            return  # settled before the message went out
        attempt, order = found
        # The merchant, the case and its elder in one statement, not three.
        params = {"merchant_id": attempt.merchant_id, "case_id": order.case_id}
        row = session.execute(_MERCHANT_CASE_ELDER, params).first()
        if row is None:
            return  # the merchant or the case is gone
        merchant, elder = row[0], row[2]
        who = merchant_actor(attempt.merchant_id)
        text = order_text(order, elder)
        body, lang = worded_for(session, who, text, centre=self._services.settings.language)
        ctx.outbox.add(
            case_id=order.case_id,
            channel=Channel.sms,
            to=merchant.phone,
            recipient=who,
            body=body,
            key=f"order:{attempt.id}:sms",
            language=lang,
        )

    def contact_due(self, ctx: TimerContext, timer: Timer) -> None:
        """No contact confirmed in time: the order moves on (the "merchant_contact" handler)."""
        moved = miss_contact(ctx.uow, timer.step, now=ctx.now, tz=self._services.tz)
        if moved is None:
            return
        missed, following = moved
        session = ctx.uow.session
        order = session.get(ServiceOrder, missed.order_id)
        skipped = session.get(Merchant, missed.merchant_id)
        if order is None or skipped is None:
            return
        who = merchant_actor(missed.merchant_id)
        body, lang = worded_for(
            session, who, moved_text(order), centre=self._services.settings.language
        )
        ctx.outbox.add(
            case_id=order.case_id,
            channel=Channel.sms,
            to=skipped.phone,
            recipient=who,
            body=body,
            key=f"order:{missed.id}:moved",
            language=lang,
        )
        if following is not None:
            nxt = session.get(Merchant, following.merchant_id)
            then = Msg("now with {who}", who=nxt.name if nxt else following.merchant_id)
        else:
            then = Msg("no merchant left: please arrange the service")
        ctx.outbox.add(
            case_id=order.case_id,
            channel=CONSOLE,
            to=OPERATORS,
            recipient=OPERATORS,
            body=Msg(
                "Order {order} ({case}): {merchant} did not confirm contact "
                "within 10 minutes; {then}",
                order=order.id,
                case=order.case_id,
                merchant=skipped.name,
                then=then,
            ),
            key=f"order:{missed.id}:console",
        )
        log.info("order %s: merchant %s missed the contact; %s", order.id, skipped.id, then)

    def sms_reply(self, merchant_ids: list[int], reply: Reply) -> str | None:
        """A merchant's SMS answer to an order waiting for contact; None when none waits."""
        now = self._services.clock.now()
        with self._services.uow() as uow:
            waiting = list(uow.session.exec(_WAITING, params={"merchants": merchant_ids}).all())
            if reply.code is not None:
                waiting = [o for o in waiting if matches_case(reply.code, o.case_id)]
            if not waiting:
                return None
            if len(waiting) > 1:
                codes = ", ".join(f"{short_code(o.case_id)} ({o.category})" for o in waiting)
                return Msg(
                    "You have {n} orders waiting. Reply 1 and the code: {codes}.",
                    n=len(waiting),
                    codes=codes,
                )
            order = waiting[0]
            if order.id is None or order.merchant_id is None:
                return None
            try:
                if reply.answer is Answer.ACCEPT:
                    confirm_contact(uow, order.id, order.merchant_id, now=now)
                    text = Msg("Thank you: contact confirmed for order {order}.", order=order.id)
                else:
                    decline_order(uow, order.id, order.merchant_id, now=now, tz=self._services.tz)
                    text = Msg("Thank you; order {order} goes to another merchant.", order=order.id)
                uow.commit()
            except DomainError as exc:
                uow.rollback()
                log.warning("merchant reply on order %s refused: %s", order.id, exc)
                return Msg("Order {order}: {problem}.", order=order.id, problem=str(exc))
        log.info("order %s: merchant %s answered %s by sms", order.id, order.merchant_id, reply)
        return text
