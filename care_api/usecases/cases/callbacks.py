"""Callbacks (回访): each attempt stored as a row, and what a bad one costs the merchant."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from care_api.domain.dispatch import is_bad_callback
from care_api.domain.model import TimerPurpose
from care_api.domain.texts import Msg
from care_api.store.tables import Callback, Case, MerchantStrike
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.log import write_timer
from care_api.usecases.dispatch.merchants import (
    DEFAULT_RED_CARD,
    merchant_who_served,
    record_strike,
)

MAX_FAILED_CALLBACKS = 3  # unreached this often, the case closes as "callback failed"
FAILED_CLOSE_WHY = Msg("callback failed {n} times", n=MAX_FAILED_CALLBACKS)


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _opt_bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def store_callback(
    session: Session, case: Case, result: Mapping[str, object], *, by: str, now: datetime
) -> Callback:
    """Keep one callback attempt with its answers."""
    row = Callback(
        case_id=case.id,
        at=now,
        by=by,
        reached=result.get("reached", True) is not False,
        time_ok=_opt_bool(result.get("time_ok")),
        quality=_opt_int(result.get("quality")),
        price_ok=_opt_bool(result.get("price_ok")),
        satisfaction=_opt_int(result.get("satisfaction")),
        comment=str(result.get("comment") or "")[:1000],
    )
    session.add(row)
    session.flush()
    return row


def failed_callbacks(session: Session, case_id: str) -> int:
    """How many callback attempts on the case did not reach the elder."""
    count = session.exec(
        select(func.count()).where(Callback.case_id == case_id, col(Callback.reached).is_(False))
    ).one()
    return int(count)


def penalise_if_bad(
    uow: SqlUnitOfWork,
    case: Case,
    callback: Callback,
    *,
    now: datetime,
    red_card: timedelta = DEFAULT_RED_CARD,
) -> MerchantStrike | None:
    """A bad callback on a case a merchant served is a strike against that merchant."""
    if not callback.reached or not is_bad_callback(callback.quality, callback.satisfaction):
        return None
    merchant_id = merchant_who_served(uow.session, case.id)
    if merchant_id is None:
        return None
    return record_strike(uow, case, callback, merchant_id, now=now, red_card=red_card)


def arm_auto_callback(session: Session, case: Case, now: datetime) -> None:
    """Leave the machine's callback due; its handler decides whether and when it calls."""
    write_timer(
        session,
        case_id=case.id,
        purpose=TimerPurpose.AUTO_CALLBACK,
        step=0,
        due_at=now,
        created_at=now,
    )
