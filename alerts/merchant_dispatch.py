"""Merchant dispatch in motion: the order SMS, the 10-minute contact deadline, merchants' replies.

care_api's `place_order` / `miss_contact` choose the merchant and write the turn with two
timers keyed by its id: "merchant_notify" (due at once: send the order) and
"merchant_contact" (due 10 minutes later: no contact confirmed, the order moves on and the
skipped merchant's record shows the miss). A merchant answers by API or by SMS: "1"
confirms contact, "2" passes the order on.
"""

from __future__ import annotations

import logging

from sqlmodel import col, select

from alerts.escalation import OPERATORS
from alerts.replies import Answer, Reply, matches_case, short_code
from alerts.timers import TimerContext
from care_api.domain.channels import Channel
from care_api.domain.errors import DomainError
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

log = logging.getLogger(__name__)


def order_text(order: ServiceOrder, elder: Elder | None) -> str:
    """The SMS that gives a merchant an order: whom to serve and where, never medical notes."""
    code = short_code(order.case_id)
    who = f"{elder.name}, {elder.address}, phone {elder.phone}" if elder else "see the centre"
    note = f" Note: {order.note}." if order.note else ""
    return (
        f"New order {order.id} ({order.category}), code {code}: {who}.{note} "
        f"Call the elder within 10 minutes, then reply 1 {code} (2 {code} if you cannot)."
    )


def moved_text(order: ServiceOrder) -> str:
    """What a merchant is told when the order left them for want of a confirmed contact."""
    return (
        f"Order {order.id} ({short_code(order.case_id)}) has gone to another merchant: "
        "contact with the elder was not confirmed within 10 minutes."
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
        merchant = session.get(Merchant, attempt.merchant_id)
        case = session.get(Case, order.case_id)
        if merchant is None or case is None:
            return
        ctx.outbox.add(
            case_id=order.case_id,
            channel=Channel.sms,
            to=merchant.phone,
            recipient=merchant_actor(attempt.merchant_id),
            body=order_text(order, session.get(Elder, case.elder_id)),
            key=f"order:{attempt.id}:sms",
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
        ctx.outbox.add(
            case_id=order.case_id,
            channel=Channel.sms,
            to=skipped.phone,
            recipient=merchant_actor(missed.merchant_id),
            body=moved_text(order),
            key=f"order:{missed.id}:moved",
        )
        if following is not None:
            nxt = session.get(Merchant, following.merchant_id)
            then = f"now with {nxt.name if nxt else following.merchant_id}"
        else:
            then = "no merchant left: please arrange the service"
        ctx.outbox.add(
            case_id=order.case_id,
            channel=CONSOLE,
            to=OPERATORS,
            recipient=OPERATORS,
            body=(
                f"Order {order.id} ({order.case_id}): {skipped.name} did not confirm contact "
                f"within 10 minutes; {then}"
            ),
            key=f"order:{missed.id}:console",
        )
        log.info("order %s: merchant %s missed the contact; %s", order.id, skipped.id, then)

    def sms_reply(self, merchant_ids: list[int], reply: Reply) -> str | None:
        """A merchant's SMS answer to an order waiting for contact; None when none waits."""
        now = self._services.clock.now()
        with self._services.uow() as uow:
            waiting = list(
                uow.session.exec(
                    select(ServiceOrder)
                    .where(
                        col(ServiceOrder.merchant_id).in_(merchant_ids),
                        ServiceOrder.status == "assigned",
                    )
                    .order_by(col(ServiceOrder.id))
                ).all()
            )
            if reply.code is not None:
                waiting = [o for o in waiting if matches_case(reply.code, o.case_id)]
            if not waiting:
                return None
            if len(waiting) > 1:
                codes = ", ".join(f"{short_code(o.case_id)} ({o.category})" for o in waiting)
                return f"You have {len(waiting)} orders waiting. Reply 1 and the code: {codes}."
            order = waiting[0]
            if order.id is None or order.merchant_id is None:
                return None
            try:
                if reply.answer is Answer.ACCEPT:
                    confirm_contact(uow, order.id, order.merchant_id, now=now)
                    text = f"Thank you: contact confirmed for order {order.id}."
                else:
                    decline_order(uow, order.id, order.merchant_id, now=now, tz=self._services.tz)
                    text = f"Thank you; order {order.id} goes to another merchant."
                uow.commit()
            except DomainError as exc:
                uow.rollback()
                log.warning("merchant reply on order %s refused: %s", order.id, exc)
                return f"Order {order.id}: {exc}."
        log.info("order %s: merchant %s answered %s by sms", order.id, order.merchant_id, reply)
        return text
