"""The language each person reads and hears: their own, else the centre's."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import cast

from sqlmodel import Session, col, select

from care_api.i18n import language_of, render
from care_api.store.tables import Contact, Elder, Merchant, Volunteer

_PEOPLE: dict[str, type[Contact | Elder | Merchant | Volunteer]] = {
    "contact": Contact,
    "elder": Elder,
    "merchant": Merchant,
    "volunteer": Volunteer,
}


def language_of_person(session: Session, actor: str | None, *, centre: str) -> str:
    """The language of `actor` ("contact:3", "volunteer:2", "elder:4"); `centre` for others.

    The supervisor, operators and unknown numbers read the centre's language.
    """
    kind, _, ident = (actor or "").partition(":")
    table = _PEOPLE.get(kind)
    if table is None or not ident.isdigit():
        return language_of(centre)
    person = session.get(table, int(ident))
    own: str | None = getattr(person, "language", None)
    return language_of(own, default=language_of(centre))


def load_people(
    session: Session, actors: Iterable[str]
) -> list[Contact | Elder | Merchant | Volunteer]:
    """Load the people among `actors` into `session`, one statement a kind of person.

    `language_of_person` then finds them without a statement, as long as the caller holds
    the rows returned.
    """
    ids: dict[str, set[int]] = {}
    for actor in actors:
        kind, _, ident = actor.partition(":")
        if kind in _PEOPLE and ident.isdigit():
            ids.setdefault(kind, set()).add(int(ident))
    rows: list[Contact | Elder | Merchant | Volunteer] = []
    for kind, wanted in sorted(ids.items()):
        table = _PEOPLE[kind]
        found = session.exec(select(table).where(col(table.id).in_(sorted(wanted)))).all()
        rows.extend(cast(Sequence[Contact | Elder | Merchant | Volunteer], found))
    return rows


def worded_for(session: Session, actor: str | None, text: str, *, centre: str) -> tuple[str, str]:
    """`text` (a catalogue `Msg`) as `actor` reads it, and that language (for the row)."""
    language = language_of_person(session, actor, centre=centre)
    return render(language, text), language
