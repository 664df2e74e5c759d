"""Who an actor key is ("contact:9", "operator:Li", "system:vnh"), by role and name."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from care_api.store.tables import Contact, Elder, Merchant, Volunteer

# Roles whose key carries a row id rather than a name; the row gives the name.
_TABLES: dict[str, type[Contact] | type[Volunteer] | type[Merchant] | type[Elder]] = {
    "contact": Contact,
    "volunteer": Volunteer,
    "merchant": Merchant,
    "elder": Elder,
}


@dataclass(frozen=True, slots=True)
class Named:
    """An actor as people read it: a role (operator, contact, system…) and a name."""

    role: str
    name: str
    detail: str = ""  # a contact's relation to the elder


def _split(actor: str) -> tuple[str, str]:
    role, sep, rest = actor.partition(":")
    return (role, rest) if sep else (actor, "")


def name_actors(session: Session, actors: Iterable[str]) -> dict[str, Named]:
    """Every actor key with its role and name; a key with a row id is looked up once per role."""
    keys = set(actors)
    ids: dict[str, set[int]] = {}
    for key in keys:
        role, rest = _split(key)
        if role in _TABLES and rest.isdigit():
            ids.setdefault(role, set()).add(int(rest))
    found: dict[str, Named] = {}
    for role, wanted in ids.items():
        table = _TABLES[role]
        query = select(table.id, table.name).where(col(table.id).in_(wanted))
        for row_id, name in session.exec(query).all():
            found[f"{role}:{row_id}"] = Named(role, name)
    contacts = ids.get("contact", set())
    if contacts:  # a contact is read with their relation to the elder: "Wang Jun (son)"
        query_c = select(Contact.id, Contact.relation).where(col(Contact.id).in_(contacts))
        for row_id, relation in session.exec(query_c).all():
            key = f"contact:{row_id}"
            found[key] = Named("contact", found[key].name, relation)
    named: dict[str, Named] = {}
    for key in keys:
        role, rest = _split(key)
        named[key] = found.get(key) or Named(role, rest)
    return named
