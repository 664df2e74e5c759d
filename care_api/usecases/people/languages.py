"""The language each person reads and hears: their own, else the centre's."""

from __future__ import annotations

from sqlmodel import Session

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


def worded_for(session: Session, actor: str | None, text: str, *, centre: str) -> tuple[str, str]:
    """`text` (a catalogue `Msg`) as `actor` reads it, and that language (for the row)."""
    language = language_of_person(session, actor, centre=centre)
    return render(language, text), language
