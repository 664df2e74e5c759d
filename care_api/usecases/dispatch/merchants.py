"""Merchants: profiles, their record of orders, and the strikes (cards) of bad callbacks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from care_api.domain.dispatch import MerchantStatus, Standing, standing_of
from care_api.domain.errors import Conflict, InvalidInput, NotFound
from care_api.domain.phones import DEFAULT_REGION, to_e164
from care_api.domain.texts import Msg, term
from care_api.domain.volunteering import validate_availability
from care_api.store.tables import (
    Callback,
    Case,
    Merchant,
    MerchantStrike,
    OrderAttempt,
    ServiceOrder,
)
from care_api.store.uow import SqlUnitOfWork
from care_api.usecases.cases.log import add_note

MERCHANT = "merchant"
DEFAULT_RED_CARD = timedelta(days=30)
MAX_CATEGORIES = 20
RECORD_ROWS = 50
# Orders whose merchant served the elder, so a callback about them judges that merchant.
SERVED = ("contacted", "done")


def merchant_actor(merchant_id: int) -> str:
    """How case histories name a merchant: "merchant:2"."""
    return f"{MERCHANT}:{merchant_id}"


def create_merchant(
    session: Session, data: Mapping[str, object], now: datetime, *, region: str = DEFAULT_REGION
) -> Merchant:
    """Add a merchant taking orders of its categories (phone stored in E.164)."""
    raw = data.get("categories") or []
    categories: Sequence[object] = raw if isinstance(raw, list | tuple) else []
    if not 1 <= len(categories) <= MAX_CATEGORIES:
        raise InvalidInput(
            Msg("categories must be a list of 1 to {most} words", most=MAX_CATEGORIES)
        )
    fields = {"name", "phone", "lat", "lon", "rating", "language"}
    merchant = Merchant.model_validate(
        {
            **{k: v for k, v in data.items() if k in fields and v is not None},
            "phone": to_e164(str(data.get("phone") or ""), region),
            "categories": sorted({str(c).strip().lower() for c in categories if str(c).strip()}),
            "status": MerchantStatus.ACTIVE,
            "red_until": None,
            "created_at": now,
            "hours": _checked_hours(data.get("hours")),
        }
    )
    session.add(merchant)
    session.flush()
    return merchant


def _checked_hours(raw: object) -> dict[str, list[str]] | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise TypeError("hours must map weekdays to spans like 08:00-20:00")
    return validate_availability(raw)


def set_merchant_hours(
    session: Session, merchant_id: int, hours: Mapping[str, Sequence[str]] | None
) -> Merchant:
    """Set the merchant's opening hours (None: always open); dispatch skips it while closed."""
    merchant = get_merchant(session, merchant_id, lock=True)
    merchant.hours = _checked_hours(hours)
    session.add(merchant)
    return merchant


def get_merchant(session: Session, merchant_id: int, *, lock: bool = False) -> Merchant:
    """The merchant, or NotFound."""
    merchant = session.get(Merchant, merchant_id, with_for_update=lock)
    if merchant is None:
        raise NotFound(Msg("merchant {merchant_id} not found", merchant_id=merchant_id))
    return merchant


def list_merchants(
    session: Session, *, category: str | None = None, status: str | None = None
) -> list[Merchant]:
    """Merchants by id, optionally of one category or status."""
    query = select(Merchant).order_by(col(Merchant.id))
    if status is not None:
        query = query.where(Merchant.status == status)
    rows = list(session.exec(query).all())
    if category is not None:
        wanted = category.strip().lower()
        rows = [m for m in rows if wanted in m.categories]
    return rows


def strikes_of(session: Session, merchant_id: int) -> list[MerchantStrike]:
    """Every strike against the merchant, revoked or not, oldest first."""
    return list(
        session.exec(
            select(MerchantStrike)
            .where(MerchantStrike.merchant_id == merchant_id)
            .order_by(col(MerchantStrike.at), col(MerchantStrike.id))
        ).all()
    )


def record_of(session: Session, merchant_id: int, limit: int = RECORD_ROWS) -> list[OrderAttempt]:
    """The merchant's turns at orders, newest first: contacted, missed or declined."""
    return list(
        session.exec(
            select(OrderAttempt)
            .where(OrderAttempt.merchant_id == merchant_id)
            .order_by(col(OrderAttempt.assigned_at).desc(), col(OrderAttempt.id).desc())
            .limit(limit)
        ).all()
    )


def merchant_who_served(session: Session, case_id: str) -> int | None:
    """The merchant of the case's latest order that reached the elder, if any."""
    return session.exec(_SERVED_BY, params={"case_id": case_id}).first()


# Built once: every callback survey asks it, on each attempt and each answer.
_SERVED_BY = (
    select(ServiceOrder.merchant_id)
    .where(col(ServiceOrder.case_id) == bindparam("case_id"), col(ServiceOrder.status).in_(SERVED))
    .order_by(col(ServiceOrder.id).desc())
)


def record_strike(
    uow: SqlUnitOfWork,
    case: Case,
    callback: Callback,
    merchant_id: int,
    *,
    now: datetime,
    red_card: timedelta = DEFAULT_RED_CARD,
) -> MerchantStrike:
    """A bad callback counts against the merchant: yellow, then red, then removal."""
    merchant = get_merchant(uow.session, merchant_id, lock=True)
    why = Msg(
        "callback: quality {quality}, satisfaction {satisfaction}",
        quality=callback.quality,
        satisfaction=callback.satisfaction,
    )
    strike = MerchantStrike(
        merchant_id=merchant_id,
        case_id=case.id,
        callback_id=callback.id,
        at=now,
        card=MerchantStatus.YELLOW,
        reason=why,
    )
    uow.session.add(strike)
    uow.session.flush()
    standing = _restand(uow.session, merchant, red_card)
    strike.card = standing.status
    uow.session.add(strike)
    note = Msg(
        "{merchant} {name}: {status} card ({why})",
        merchant=merchant_actor(merchant_id),
        name=merchant.name,
        status=term(standing.status),
        why=why,
    )
    add_note(uow, case, action="strike", by=callback.by, why=note, now=now)
    return strike


def revoke_strike(
    session: Session,
    merchant_id: int,
    strike_id: int,
    *,
    by: str,
    reason: str,
    now: datetime,
    red_card: timedelta = DEFAULT_RED_CARD,
) -> Merchant:
    """An admin takes a strike back; the merchant's standing is worked out again."""
    if not reason.strip():
        raise InvalidInput(Msg("revoking a strike needs a reason"))
    merchant = get_merchant(session, merchant_id, lock=True)
    strike = session.get(MerchantStrike, strike_id)
    if strike is None or strike.merchant_id != merchant_id:
        raise NotFound(
            Msg(
                "strike {strike_id} of merchant {merchant_id} not found",
                strike_id=strike_id,
                merchant_id=merchant_id,
            )
        )
    if strike.revoked_at is not None:
        raise Conflict(Msg("strike {strike_id} was revoked already", strike_id=strike_id))
    strike.revoked_at = now
    strike.revoked_by = by
    strike.revoke_reason = reason.strip()
    session.add(strike)
    session.flush()
    _restand(session, merchant, red_card)
    return merchant


def _restand(session: Session, merchant: Merchant, red_card: timedelta) -> Standing:
    if merchant.id is None:
        raise RuntimeError("merchant has no id yet")
    in_force = [s.at for s in strikes_of(session, merchant.id) if s.revoked_at is None]
    standing = standing_of(in_force, red_card)
    merchant.status = standing.status
    merchant.red_until = standing.red_until
    session.add(merchant)
    return standing
