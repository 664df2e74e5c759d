"""A person's addresses besides their phone (WeChat openid), their preferred channel, binding.

WeChat is bound by a one-time code: the operator makes one for a contact or volunteer (and
may send it by SMS), the person sends it to the official account, and the inbound message
webhook binds the openid it came from.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import String, cast, null, union_all
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, delete, select

from care_api.domain.channels import CHANNELS, PERSON_CHANNELS, AddressKind, Channel
from care_api.domain.errors import InvalidInput, NotFound
from care_api.domain.texts import N_, Msg, term
from care_api.i18n import t
from care_api.store.arrays import Pair, one_of
from care_api.store.channel_tables import PersonAddress, PersonPreference, WechatBindCode
from care_api.store.tables import Contact, Notification, Volunteer

BIND_CODE_DIGITS = 8  # never a reply: "1", "2", "3" and case codes are at most 6 digits
BIND_CODE_TTL_S = 24 * 3600
_BINDABLE: dict[str, type[Contact | Volunteer]] = {"contact": Contact, "volunteer": Volunteer}


@dataclass(frozen=True, slots=True)
class Reach:
    """Where a person is reached: addresses by AddressKind value, and the preferred channel."""

    addresses: dict[str, str] = field(default_factory=dict)
    preferred: str | None = None


def person_of(session: Session, actor: str) -> Contact | Volunteer | None:
    """The contact or volunteer behind "contact:3" / "volunteer:5"; None for anyone else."""
    kind, _, ident = actor.partition(":")
    table = _BINDABLE.get(kind)
    if table is None or not ident.isdigit():
        return None
    return session.get(table, int(ident))  # type: ignore[return-value]


def reach_of(session: Session, actors: Sequence[str]) -> dict[str, Reach]:
    """Each actor's addresses besides their phone, and preferred channel, in one query."""
    if not actors:
        return {}
    found: dict[str, Reach] = {a: Reach() for a in actors}
    rows = session.execute(_REACH_OF.on(session), {"actors": list(actors)}).all()
    for actor, kind, address in rows:
        if kind is not None:
            found[actor].addresses[kind] = address
    for actor, kind, channel in rows:
        if kind is None:  # a preference: the Reach keeps the addresses' dict, filled above
            found[actor] = Reach(found[actor].addresses, channel)
    return found


def phone_of(session: Session, actor: str) -> str | None:
    """The phone of a contact or volunteer, for a message that must fall back to SMS."""
    person = person_of(session, actor)
    return person.phone if person is not None else None


def identify_openid(session: Session, openid: str) -> list[str]:
    """Every actor a WeChat openid is bound to ("contact:3", …); [] when nobody's."""
    rows = session.exec(
        select(PersonAddress.actor)
        .where(
            col(PersonAddress.kind) == AddressKind.wechat_openid.value,
            col(PersonAddress.address) == openid,
        )
        .order_by(col(PersonAddress.id))
    ).all()
    return [a for a in rows if person_of(session, a) is not None]


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def new_bind_code(session: Session, actor: str, *, now: datetime) -> tuple[str, datetime]:
    """A fresh one-time code for `actor` to send to the official account; older ones lapse."""
    if person_of(session, actor) is None:
        raise NotFound(Msg("{actor} not found", actor=actor))
    session.exec(delete(WechatBindCode).where(col(WechatBindCode.actor) == actor))
    code = "".join(secrets.choice("0123456789") for _ in range(BIND_CODE_DIGITS))
    expires = now + timedelta(seconds=BIND_CODE_TTL_S)
    session.add(
        WechatBindCode(code_hash=_hash(code), actor=actor, created_at=now, expires_at=expires)
    )
    return code, expires


def looks_like_bind_code(text: str) -> bool:
    """True when a message is shaped like a bind code (8 digits, spaces allowed)."""
    digits = "".join(text.split())
    return len(digits) == BIND_CODE_DIGITS and digits.isascii() and digits.isdigit()


def bind_wechat(session: Session, openid: str, text: str, *, now: datetime) -> str | None:
    """Bind `openid` to the person whose unused, unexpired code `text` is; their actor or None."""
    if not looks_like_bind_code(text) or not openid:
        return None
    code = session.get(WechatBindCode, _hash("".join(text.split())), with_for_update=True)
    if code is None or code.used_at is not None or code.expires_at <= now:
        return None
    if person_of(session, code.actor) is None:
        return None
    code.used_at = now
    code.used_by = openid
    session.add(code)
    row = session.exec(
        select(PersonAddress).where(
            col(PersonAddress.actor) == code.actor,
            col(PersonAddress.kind) == AddressKind.wechat_openid.value,
        )
    ).first()
    if row is None:
        row = PersonAddress(
            actor=code.actor, kind=AddressKind.wechat_openid.value, address=openid, bound_at=now
        )
    row.address = openid
    row.bound_at = now
    session.add(row)
    return code.actor


def unbind(session: Session, actor: str, kind: AddressKind) -> bool:
    """Forget `actor`'s address of `kind`; a preference for a channel that needed it lapses."""
    if person_of(session, actor) is None:
        raise NotFound(Msg("{actor} not found", actor=actor))
    row = session.exec(
        select(PersonAddress).where(
            col(PersonAddress.actor) == actor, col(PersonAddress.kind) == kind.value
        )
    ).first()
    if row is None:
        return False
    session.delete(row)
    pref = session.get(PersonPreference, actor)
    if pref is not None and CHANNELS[Channel(pref.channel)].address is kind:
        session.delete(pref)
    return True


def set_preferred(session: Session, actor: str, channel: str | None, *, now: datetime) -> None:
    """Reach `actor` first on `channel` (None: no preference); they must have its address."""
    person = person_of(session, actor)
    if person is None:
        raise NotFound(Msg("{actor} not found", actor=actor))
    pref = session.get(PersonPreference, actor)
    if channel is None:
        if pref is not None:
            session.delete(pref)
        return
    if channel not in PERSON_CHANNELS:
        raise InvalidInput(
            Msg("preferred channel must be one of {allowed}", allowed=", ".join(PERSON_CHANNELS))
        )
    kind = CHANNELS[Channel(channel)].address
    if kind is not None and kind is not AddressKind.phone:
        has = kind.value in reach_of(session, [actor])[actor].addresses
    else:
        has = True
    if not has:
        raise InvalidInput(
            Msg(
                "{actor} has no address for {channel}: bind it before preferring it",
                actor=actor,
                channel=term(channel),
            )
        )
    if pref is None:
        pref = PersonPreference(actor=actor, channel=channel, updated_at=now)
    pref.channel = channel
    pref.updated_at = now
    session.add(pref)


BIND_CODE_SMS = N_(
    "Your code for the centre's alerts on WeChat: {code}. Send it to the centre's official "
    "account within 24 hours."
)


def send_bind_code_by_sms(
    session: Session, actor: str, code: str, *, language: str, now: datetime
) -> Notification:
    """Queue an SMS with the code to the person's phone; the alerts' sender sends it."""
    person = person_of(session, actor)
    if person is None:
        raise NotFound(Msg("{actor} not found", actor=actor))
    body = t(language, BIND_CODE_SMS, code=code)
    row = Notification(
        channel=Channel.sms.value,
        to=person.phone,
        recipient=actor,
        body=body,
        language=language,
        status="pending",
        next_attempt_at=now,  # the sender's next beat takes it
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    return row


# Built once: every ladder step asks it for the people it alerts. The addresses (a kind
# each) and the preferences (kind NULL, the channel in place of the address) in one
# statement, one round trip.
_REACH_OF = Pair(
    lambda pg: union_all(
        sa_select(
            col(PersonAddress.actor), col(PersonAddress.kind), col(PersonAddress.address)
        ).where(one_of(col(PersonAddress.actor), "actors", postgres=pg)),
        sa_select(
            col(PersonPreference.actor), cast(null(), String), col(PersonPreference.channel)
        ).where(one_of(col(PersonPreference.actor), "actors", postgres=pg)),
    )
)
