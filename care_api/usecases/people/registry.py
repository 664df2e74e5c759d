"""Elders, their contacts, and the terminals bound to them."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import Session, col, select

from care_api.domain.errors import Conflict, InvalidInput, NotFound
from care_api.domain.fleet import DEFAULT_HEARTBEAT_S, check_heartbeat_s
from care_api.domain.keymap import validate_keymap
from care_api.domain.phones import DEFAULT_REGION, to_e164
from care_api.domain.texts import Msg
from care_api.store.arrays import Pair, one_of
from care_api.store.tables import Contact, Device, DeviceModel, Elder
from care_api.usecases.cases.queries import Page
from care_api.usecases.fleet.broker_passwords import broker_name_problem, mosquitto_hash
from care_api.usecases.fleet.history import record_history
from care_api.usecases.people.credentials import hash_secret, new_secret

# Fewer digits than this would match most phone numbers: searched as a name only.
MIN_PHONE_DIGITS = 3
ELDER_FIELDS = frozenset(
    {
        "name",
        "phone",
        "address",
        "lat",
        "lon",
        "medical_notes",
        "district",
        "language",
        "access_notes",
        "wanders",
        "taken_off_case",
    }
)


def create_elder(
    session: Session, data: Mapping[str, object], now: datetime, *, region: str = DEFAULT_REGION
) -> Elder:
    """Add an elder's profile; the phone is stored in E.164 (local input read in `region`)."""
    elder = Elder.model_validate({**_checked(data, region), "created_at": now})
    session.add(elder)
    session.flush()
    return elder


def get_elder(session: Session, elder_id: int) -> Elder:
    """The elder, or NotFound."""
    elder = session.get(Elder, elder_id)
    if elder is None:
        raise NotFound(Msg("elder {elder_id} not found", elder_id=elder_id))
    return elder


def _like(text: str) -> str:
    # The operator's text is matched literally: % and _ are not wildcards to them.
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def _phone_digits() -> ColumnElement[str]:
    # Phones are stored as typed ("+86 138-0000-0000"); searches compare the digits. The API
    # allows only digits, spaces, dashes and a leading plus in a phone number.
    digits: ColumnElement[str] = func.replace(col(Elder.phone), " ", "")
    for mark in ("-", "+"):
        digits = func.replace(digits, mark, "")
    return digits


def find_elders(session: Session, text: str, page: Page) -> list[tuple[Elder, list[str]]]:
    """Elders by name, each with their terminals in service, matching `text` if given.

    `text` matches part of a name (any case), the digits of a phone number, or a terminal id
    (its start); an empty text lists everyone.
    """
    query = select(Elder)
    needle = text.strip()
    if needle:
        digits = "".join(c for c in needle if c.isdigit())
        terminal = select(Device.elder_id).where(
            func.lower(Device.device_id).like(_like(needle)[1:], escape="\\")
        )
        matches = [
            func.lower(Elder.name).like(_like(needle), escape="\\"),
            col(Elder.id).in_(terminal.scalar_subquery()),
        ]
        if len(digits) >= MIN_PHONE_DIGITS:
            matches.append(_phone_digits().like(f"%{digits}%"))
        query = query.where(or_(*matches))
    query = query.order_by(col(Elder.name), col(Elder.id)).offset(page.offset).limit(page.limit)
    elders = list(session.exec(query).all())
    ids = [e.id for e in elders]
    terminals: dict[int, list[str]] = {}
    if ids:
        rows = session.exec(
            select(Device.elder_id, Device.device_id)
            .where(col(Device.elder_id).in_(ids), Device.status != "retired")
            .order_by(col(Device.device_id))
        ).all()
        for elder_id, device_id in rows:
            if elder_id is not None:
                terminals.setdefault(elder_id, []).append(device_id)
    return [(e, terminals.get(e.id or 0, [])) for e in elders]


def update_elder(
    session: Session,
    elder_id: int,
    changes: Mapping[str, object],
    *,
    region: str = DEFAULT_REGION,
) -> Elder:
    """Change the given fields of a profile; others stay as they are."""
    elder = get_elder(session, elder_id)
    for name, value in _checked(changes, region).items():
        setattr(elder, name, value)
    session.add(elder)
    return elder


def _checked(data: Mapping[str, object], region: str) -> dict[str, object]:
    out = {k: v for k, v in data.items() if k in ELDER_FIELDS}
    if isinstance(out.get("phone"), str):
        out["phone"] = to_e164(str(out["phone"]), region)
    if "keymap_override" in data:
        keymap = data["keymap_override"]
        out["keymap_override"] = (
            None if keymap is None else dict(validate_keymap(keymap))  # type: ignore[arg-type]
        )
    return out


def add_contact(
    session: Session, elder_id: int, data: Mapping[str, object], *, region: str = DEFAULT_REGION
) -> Contact:
    """Add a caregiver or family member to the elder's alert list (phone stored in E.164)."""
    get_elder(session, elder_id)
    phone = to_e164(str(data.get("phone") or ""), region)
    contact = Contact.model_validate({**data, "phone": phone, "elder_id": elder_id})
    session.add(contact)
    session.flush()
    return contact


# An elder nobody can be paged for: allowed (contacts may come later), but every view of
# the elder and of its cases says so, since its alarms go straight to the supervisor.
NO_CONTACTS_WARNING = "no_contacts"


def elders_without_contacts(session: Session, elder_ids: Iterable[int]) -> set[int]:
    """Those of `elder_ids` with no contact a ladder may page (info-only ones do not count)."""
    wanted = set(elder_ids)
    if not wanted:
        return set()
    paged = session.exec(
        select(Contact.elder_id)
        .where(col(Contact.elder_id).in_(wanted), col(Contact.notify_only).is_(False))
        .distinct()
    ).all()
    return wanted - set(paged)


def elder_warnings(session: Session, elder_id: int) -> list[str]:
    """What is amiss with an elder's set-up, as the API shows it ("no_contacts")."""
    return [NO_CONTACTS_WARNING] if elders_without_contacts(session, [elder_id]) else []


def contacts_of(session: Session, elder_id: int) -> list[Contact]:
    """The elder's contacts, first to alert first."""
    return contacts_of_elders(session, [elder_id])[elder_id]


# Built once: every ladder step reads its elders' contacts.
_CONTACTS_OF = Pair(
    lambda pg: (
        select(Contact)
        .where(one_of(col(Contact.elder_id), "elders", postgres=pg))
        .order_by(col(Contact.priority), col(Contact.id))
    )
)


def contacts_of_elders(session: Session, elder_ids: Sequence[int]) -> dict[int, list[Contact]]:
    """Each elder's contacts, first to alert first, in one query (every elder has a list)."""
    found: dict[int, list[Contact]] = {i: [] for i in elder_ids}
    for contact in session.exec(_CONTACTS_OF.on(session), params={"elders": list(found)}).all():
        found.setdefault(contact.elder_id, []).append(contact)
    return found


def provision_device(
    session: Session,
    device_id: str,
    elder_id: int,
    now: datetime,
    hub_port: str | None = None,
    *,
    model: str | None = None,
    heartbeat_s: int | None = None,
    by: str = "system",
    service_accounts: Collection[str] = (),
) -> tuple[Device, str]:
    """Register a terminal for an elder; returns it with its secret, which is never stored.

    Its expected heartbeat interval is `heartbeat_s`, else its model's, else 300 s.

    Raises:
        ValueError: the id is not a usable broker login: malformed, reserved, or one of
            `service_accounts` (the broker logins of the gateway and the like).
    """
    problem = broker_name_problem(device_id, service_accounts)
    if problem is not None:
        raise InvalidInput(
            Msg("device id '{device_id}' refused: {problem}", device_id=device_id, problem=problem)
        )
    get_elder(session, elder_id)
    if session.get(Device, device_id) is not None:
        raise Conflict(Msg("device {device_id} is already provisioned", device_id=device_id))
    if heartbeat_s is None and model is not None:
        known = session.get(DeviceModel, model)
        heartbeat_s = known.heartbeat_s if known is not None else None
    secret = new_secret()
    device = Device(
        device_id=device_id,
        elder_id=elder_id,
        secret_hash=hash_secret(secret),
        broker_hash=mosquitto_hash(secret),
        hub_port=hub_port,
        created_at=now,
        model=model,
        heartbeat_s=check_heartbeat_s(heartbeat_s or DEFAULT_HEARTBEAT_S),
    )
    session.add(device)
    session.flush()
    detail = Msg("elder {elder}", elder=elder_id)
    record_history(session, device, "provisioned", by=by, now=now, detail=detail)
    return device, secret


def get_device(session: Session, device_id: str) -> Device:
    """The terminal, or NotFound."""
    device = session.get(Device, device_id)
    if device is None:
        raise NotFound(Msg("device {device_id} not found", device_id=device_id))
    return device


def rotate_device_secret(
    session: Session, device_id: str, *, by: str = "system", now: datetime | None = None
) -> str:
    """Give the terminal a new secret; the old one stops working. Recorded when `now` is given."""
    device = get_device(session, device_id)
    secret = new_secret()
    device.secret_hash = hash_secret(secret)
    device.broker_hash = mosquitto_hash(secret)
    session.add(device)
    if now is not None:
        record_history(session, device, "secret_rotated", by=by, now=now)
    return secret


CONTACT_FIELDS = frozenset(
    {"name", "phone", "relation", "priority", "notify_only", "drill_opt_in", "language"}
)


def _contact_of(session: Session, elder_id: int, contact_id: int) -> Contact:
    contact = session.get(Contact, contact_id)
    if contact is None or contact.elder_id != elder_id:
        raise NotFound(
            Msg(
                "contact {contact_id} of elder {elder_id} not found",
                contact_id=contact_id,
                elder_id=elder_id,
            )
        )
    return contact


def update_contact(
    session: Session,
    elder_id: int,
    contact_id: int,
    changes: Mapping[str, object],
    *,
    region: str = DEFAULT_REGION,
) -> Contact:
    """Change the fields sent of one of the elder's contacts (phone stored in E.164)."""
    contact = _contact_of(session, elder_id, contact_id)
    for name, value in changes.items():
        if name not in CONTACT_FIELDS:
            continue
        if name == "phone":
            value = to_e164(str(value or ""), region)
        setattr(contact, name, value)
    session.add(contact)
    session.flush()
    return contact


def remove_contact(session: Session, elder_id: int, contact_id: int) -> None:
    """Take a contact off the elder's alert list; the case histories keep their name lines."""
    session.delete(_contact_of(session, elder_id, contact_id))
    session.flush()
