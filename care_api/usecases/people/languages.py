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


def _person_ref(
    actor: str | None,
) -> tuple[type[Contact | Elder | Merchant | Volunteer], int] | None:
    """The table and id behind "contact:3", "volunteer:2", "elder:4"…; None for anyone else."""
    kind, _, ident = (actor or "").partition(":")
    table = _PEOPLE.get(kind)
    return (table, int(ident)) if table is not None and ident.isdigit() else None


def language_of_person(session: Session, actor: str | None, *, centre: str) -> str:
    """The language of `actor` ("contact:3", "volunteer:2", "elder:4"); `centre` for others.

    The supervisor, operators and unknown numbers read the centre's language.
    """
    ref = _person_ref(actor)
    if ref is None:
        return language_of(centre)
    person = session.get(*ref)
    own: str | None = getattr(person, "language", None)
    return language_of(own, default=language_of(centre))


def load_people(
    session: Session, actors: Iterable[str]
) -> list[Contact | Elder | Merchant | Volunteer]:
    """Load the people among `actors` into `session`, one statement a kind of person.

    `language_of_person` then finds them without a statement, as long as the caller holds
    the rows returned.
    """
    ids: dict[type[Contact | Elder | Merchant | Volunteer], set[int]] = {}
    for actor in actors:
        if (ref := _person_ref(actor)) is not None:
            ids.setdefault(ref[0], set()).add(ref[1])
    rows: list[Contact | Elder | Merchant | Volunteer] = []
    for table, wanted in ids.items():
        found = session.exec(select(table).where(col(table.id).in_(sorted(wanted)))).all()
        rows.extend(cast(Sequence[Contact | Elder | Merchant | Volunteer], found))
    return rows


def worded_for(session: Session, actor: str | None, text: str, *, centre: str) -> tuple[str, str]:
    """`text` (a catalogue `Msg`) as `actor` reads it, and that language (for the row)."""
    language = language_of_person(session, actor, centre=centre)
    return render(language, text), language
