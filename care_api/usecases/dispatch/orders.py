"""Service orders: a service case handed to a merchant, who must confirm contact in 10 minutes.

Each merchant's turn is an `order_attempt` row and two timers keyed by its id (step): one
due at once, on which alerts sends the order, and one due CONTACT_LIMIT_S later, on which
`miss_contact` moves the order to the next merchant unless contact was confirmed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import bindparam, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from care_api.domain.cases import is_active, is_unowned
from care_api.domain.dispatch import (
    CONTACT_LIMIT_S,
    FAIR_WINDOW_DAYS,
    Candidate,
    Ranked,
    Strategy,
    may_take_orders,
    rank_merchants,
)
from care_api.domain.errors import Conflict, NotFound
from care_api.domain.events import CaseNobodyTook
from care_api.domain.geo import haversine_km
from care_api.domain.model import SYSTEM, CaseKind, TimerPurpose
from care_api.domain.rota import is_open
from care_api.domain.texts import Msg, state_word, term
from care_api.store.tables import Case, Elder, Merchant, OrderAttempt, ServiceOrder
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.actions import acknowledge, get_case, resolve
from care_api.usecases.cases.log import add_note, write_timer
from care_api.usecases.cases.queries import Page
from care_api.usecases.dispatch.merchants import merchant_actor

OPEN_ORDER = ("assigned", "contacted")
BY = str(SYSTEM)


@dataclass(frozen=True, slots=True)
class OrderRow:
    """An order with its case, elder and merchant, for the order list."""

    order: ServiceOrder
    case: Case
    elder: Elder
    merchant: Merchant | None


def get_order(session: Session, order_id: int, *, lock: bool = False) -> ServiceOrder:
    """The order, or NotFound."""
    order = session.get(ServiceOrder, order_id, with_for_update=lock)
    if order is None:
        raise NotFound(Msg("order {order_id} not found", order_id=order_id))
    return order


def place_order(
    uow: SqlUnitOfWork,
    case_id: str,
    *,
    category: str,
    note: str,
    strategy: Strategy,
    by: str,
    now: datetime,
    tz: tzinfo,
) -> tuple[ServiceOrder, OrderAttempt | None]:
    """Turn a service case into an order and give it to the best merchant for `strategy`.

    The operator who places it takes the case if nobody has (first-receiver ownership).
    Returns the order and the merchant's turn, or None when no merchant can take it.
    """
    case = uow.session.get(Case, case_id, with_for_update=True)
    if case is None:
        raise NotFound(Msg("case {case_id} not found", case_id=case_id))
    if case.kind != CaseKind.SERVICE:
        raise Conflict(
            Msg(
                "case {case_id} is a {kind} case; only service cases become orders",
                case_id=case_id,
                kind=term(case.kind),
            )
        )
    if not is_active(case.state):
        raise Conflict(
            Msg(
                "case {case_id} is {state}; it cannot get an order",
                case_id=case_id,
                state=state_word(case.state),
            )
        )
    busy = uow.session.exec(_RUNNING_ORDER, params={"case_id": case_id}).first()
    if busy is not None:
        raise Conflict(
            Msg("case {case_id} has order {busy} running already", case_id=case_id, busy=busy)
        )
    if is_unowned(case.state):
        acknowledge(uow, case_id, by=by, now=now, via="order")
    order = ServiceOrder(
        case_id=case_id,
        category=category.strip().lower(),
        note=note,
        strategy=strategy,
        status="unassigned",
        created_by=by,
        created_at=now,
    )
    uow.session.add(order)
    uow.session.flush()
    return order, _assign_next(uow, order, case, now, tz=tz, by=by)


# Built once: every order placed asks it first.
_RUNNING_ORDER = select(ServiceOrder.id).where(
    col(ServiceOrder.case_id) == bindparam("case_id"), col(ServiceOrder.status).in_(OPEN_ORDER)
)


def choose_merchants(
    session: Session, order: ServiceOrder, elder: Elder | None, now: datetime, *, tz: tzinfo
) -> list[Ranked]:
    """Merchants able to take `order`, open now, that have not had a turn at it, best first.

    Opening hours are read in the centre's time zone `tz`.
    """
    tried = set(session.exec(_TRIED, params={"order_id": order.id}))
    local_now = now.astimezone(tz)
    # Plain rows, not objects: every merchant is read for every turn of every order.
    merchants = [
        m
        for m in session.execute(_MERCHANTS).all()
        if m.id not in tried
        and order.category in m.categories
        and may_take_orders(m.status, m.red_until, now)
        and is_open(m.hours, local_now)
    ]
    since = now - timedelta(days=FAIR_WINDOW_DAYS)
    recent = dict(session.execute(_RECENT_TURNS, {"since": since}).all())
    candidates = [
        Candidate(m.id, _distance(elder, m.lat, m.lon), m.rating, int(recent.get(m.id, 0)))
        for m in merchants
    ]
    return rank_merchants(candidates, Strategy(order.strategy))


# Built once, as the two below: each turn of each order reads them.
_TRIED = select(OrderAttempt.merchant_id).where(col(OrderAttempt.order_id) == bindparam("order_id"))
_MERCHANTS = sa_select(
    col(Merchant.id),
    col(Merchant.categories),
    col(Merchant.lat),
    col(Merchant.lon),
    col(Merchant.rating),
    col(Merchant.status),
    col(Merchant.red_until),
    col(Merchant.hours),
).order_by(col(Merchant.id))
_RECENT_TURNS = (
    sa_select(col(OrderAttempt.merchant_id), func.count())
    .where(col(OrderAttempt.assigned_at) >= bindparam("since"))
    .group_by(col(OrderAttempt.merchant_id))
)


def _distance(elder: Elder | None, lat: float | None, lon: float | None) -> float | None:
    if elder is None or elder.lat is None or elder.lon is None:
        return None
    if lat is None or lon is None:
        return None
    return haversine_km(elder.lat, elder.lon, lat, lon)


def _assign_next(
    uow: SqlUnitOfWork,
    order: ServiceOrder,
    case: Case,
    now: datetime,
    *,
    tz: tzinfo,
    by: str = BY,
) -> OrderAttempt | None:
    elder = uow.session.get(Elder, case.elder_id)
    ranked = choose_merchants(uow.session, order, elder, now, tz=tz)
    if not ranked or order.id is None:
        order.status = "unassigned"
        order.merchant_id = None
        uow.session.add(order)
        why = Msg(
            "order {order} ({category}): no merchant left to take it",
            order=order.id,
            category=order.category,
        )
        add_note(
            uow, case, action="flag", by=by, why=Msg("no merchant: operator to arrange"), now=now
        )
        add_note(uow, case, action="order", by=by, why=why, now=now)
        uow.emit(CaseNobodyTook(case.id, case.device_id))  # the terminal: "we will call back"
        return None
    best = ranked[0]
    # Read before anything is written: a read after the turn's rows would flush them alone.
    merchant = uow.session.get(Merchant, best.candidate.merchant_id)
    due = now + timedelta(seconds=CONTACT_LIMIT_S)
    attempt = OrderAttempt(
        order_id=order.id,
        merchant_id=best.candidate.merchant_id,
        score=best.score,
        distance_km=best.candidate.distance_km,
        assigned_at=now,
        contact_due_at=due,
    )
    uow.session.add(attempt)
    uow.session.flush()
    assert attempt.id is not None  # noqa: S101 - flushed just above
    order.status = "assigned"
    order.merchant_id = attempt.merchant_id
    order.assigned_at = now
    order.contact_due_at = due
    order.contacted_at = None
    uow.session.add(order)
    # case_id stays empty: acknowledging or resolving the case cancels its own timers, and
    # the order's clock must keep running whoever owns the case.
    for purpose, at in ((TimerPurpose.MERCHANT_NOTIFY, now), (TimerPurpose.MERCHANT_CONTACT, due)):
        write_timer(uow.session, purpose=purpose, step=attempt.id, due_at=at, created_at=now)
    name = merchant.name if merchant else ""
    why = Msg(
        "order {order} ({category}) to {merchant} {name}, score {score}; contact due by {due}",
        order=order.id,
        category=order.category,
        merchant=merchant_actor(attempt.merchant_id),
        name=name,
        score=f"{best.score:.2f}",
        due=due,
    )
    add_note(uow, case, action="order", by=by, why=why, now=now)
    return attempt


def current_attempt(session: Session, attempt_id: int) -> tuple[OrderAttempt, ServiceOrder] | None:
    """The turn and its order while it is still the order's live, unanswered turn."""
    attempt = session.get(OrderAttempt, attempt_id)
    if attempt is None or attempt.outcome != "pending":
        return None
    order = session.get(ServiceOrder, attempt.order_id, with_for_update=True)
    if order is None or order.status != "assigned" or order.merchant_id != attempt.merchant_id:
        return None
    return attempt, order


def miss_contact(
    uow: SqlUnitOfWork,
    attempt_id: int,
    *,
    now: datetime,
    tz: tzinfo,
    outcome: str = "missed",
) -> tuple[OrderAttempt, OrderAttempt | None] | None:
    """The merchant did not confirm contact in time: their record shows it, the next one gets it.

    Returns the missed turn and the next merchant's (None when nobody is left), or None when
    the turn was settled meanwhile (contact confirmed, order done or cancelled).
    """
    found = current_attempt(uow.session, attempt_id)
    if found is None:
        return None
    attempt, order = found
    attempt.outcome = outcome
    attempt.ended_at = now
    uow.session.add(attempt)
    case = get_case(uow.session, order.case_id)
    who = merchant_actor(attempt.merchant_id)
    why = (
        Msg("order {order}: {who} declined", order=order.id, who=who)
        if outcome == "declined"
        else Msg(
            "order {order}: {who} did not confirm contact within 10 minutes",
            order=order.id,
            who=who,
        )
    )
    add_note(uow, case, action="order", by=BY, why=why, now=now)
    return attempt, _assign_next(uow, order, case, now, tz=tz)


def decline_order(
    uow: SqlUnitOfWork, order_id: int, merchant_id: int, *, now: datetime, tz: tzinfo
) -> None:
    """The merchant cannot take the order: it moves on at once."""
    order = _merchants_order(uow.session, order_id, merchant_id)
    if order.status != "assigned":
        raise Conflict(
            Msg(
                "order {order_id} is {status}; it can no longer be declined",
                order_id=order_id,
                status=term(order.status),
            )
        )
    attempt = _live_attempt(uow.session, order)
    if attempt.id is not None:
        miss_contact(uow, attempt.id, now=now, tz=tz, outcome="declined")


def confirm_contact(
    uow: SqlUnitOfWork, order_id: int, merchant_id: int, *, now: datetime
) -> ServiceOrder:
    """The merchant has reached the elder; confirming twice is harmless."""
    order = _merchants_order(uow.session, order_id, merchant_id)
    if order.status == "contacted":
        return order
    if order.status != "assigned":
        raise Conflict(
            Msg("order {order_id} is {status}", order_id=order_id, status=term(order.status))
        )
    attempt = _live_attempt(uow.session, order)
    case = get_case(uow.session, order.case_id)  # read before the writes: one flush, at commit
    attempt.outcome = "contacted"
    attempt.ended_at = now
    order.status = "contacted"
    order.contacted_at = now
    uow.session.add_all([attempt, order])
    who = merchant_actor(merchant_id)
    why = (
        Msg("order {order}: {who} contacted the elder", order=order.id, who=who)
        if now <= attempt.contact_due_at
        else Msg("order {order}: {who} contacted the elder (late)", order=order.id, who=who)
    )
    add_note(uow, case, action="order", by=BY, why=why, now=now)
    return order


def complete_order(
    uow: SqlUnitOfWork, order_id: int, merchant_id: int | None, *, by: str, now: datetime
) -> ServiceOrder:
    """The service is delivered: the order is done and its case resolved (awaiting callback).

    `merchant_id` None lets staff record it on the merchant's behalf.
    """
    order = get_order(uow.session, order_id, lock=True)
    if merchant_id is not None and order.merchant_id != merchant_id:
        raise NotFound(Msg("order {order_id} not found", order_id=order_id))
    # Locked before anything else reads it, so resolving sees the case as it is now.
    case = uow.session.get(Case, order.case_id, with_for_update=True)
    if case is None:  # pragma: no cover - orders reference their case
        raise NotFound(Msg("case {case_id} not found", case_id=order.case_id))
    if order.status == "assigned" and order.merchant_id is not None:
        confirm_contact(uow, order_id, order.merchant_id, now=now)
    if order.status != "contacted":
        raise Conflict(
            Msg(
                "order {order_id} is {status}; it cannot be done",
                order_id=order_id,
                status=term(order.status),
            )
        )
    order.status = "done"
    order.done_at = now
    uow.session.add(order)
    if is_active(case.state):
        resolve(uow, case.id, by=by, why=Msg("order {order} done", order=order.id), now=now)
    return order


def _merchants_order(session: Session, order_id: int, merchant_id: int) -> ServiceOrder:
    order = get_order(session, order_id, lock=True)
    if order.merchant_id != merchant_id:
        # Also for an order that moved on: its elder is no longer the merchant's business.
        raise NotFound(Msg("order {order_id} not found", order_id=order_id))
    return order


def _live_attempt(session: Session, order: ServiceOrder) -> OrderAttempt:
    params = {"order_id": order.id, "merchant_id": order.merchant_id}
    attempt = session.exec(_LIVE_TURN, params=params).first()
    if attempt is None:  # pragma: no cover - an assigned order always has its turn
        raise Conflict(Msg("order {order_id} has no merchant turn", order_id=order.id))
    return attempt


# Built once: each merchant's contact and each missed one reads it.
_LIVE_TURN = (
    select(OrderAttempt)
    .where(
        col(OrderAttempt.order_id) == bindparam("order_id"),
        col(OrderAttempt.merchant_id) == bindparam("merchant_id"),
    )
    .order_by(col(OrderAttempt.id).desc())
)


def _rows_query() -> Any:  # noqa: ANN401 - sqlmodel's select of four entities
    return (
        select(ServiceOrder, Case, Elder, Merchant)
        .join(Case, col(Case.id) == col(ServiceOrder.case_id))
        .join(Elder, col(Elder.id) == col(Case.elder_id))
        .join(Merchant, col(Merchant.id) == col(ServiceOrder.merchant_id), isouter=True)
    )


def order_row(session: Session, order_id: int) -> OrderRow:
    """One order with its case, elder and merchant."""
    found = session.exec(_rows_query().where(ServiceOrder.id == order_id)).first()
    if found is None:
        raise NotFound(Msg("order {order_id} not found", order_id=order_id))
    return OrderRow(*found)


def list_orders(
    session: Session,
    *,
    merchant_id: int | None,
    status: str | None = None,
    case_id: str | None = None,
    page: Page | None = None,
) -> list[OrderRow]:
    """Orders newest first: those now with one merchant, or every one for staff."""
    page = page or Page()
    query = _rows_query()
    if merchant_id is not None:
        query = query.where(ServiceOrder.merchant_id == merchant_id)
    if status is not None:
        query = query.where(ServiceOrder.status == status)
    if case_id is not None:
        query = query.where(ServiceOrder.case_id == case_id)
    query = query.order_by(col(ServiceOrder.created_at).desc(), col(ServiceOrder.id).desc())
    rows: Sequence[tuple[ServiceOrder, Case, Elder, Merchant | None]] = session.exec(
        query.offset(page.offset).limit(page.limit)
    ).all()
    return [OrderRow(o, c, e, m) for o, c, e, m in rows]
