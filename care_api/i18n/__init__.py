"""Every text a person reads or hears, in their language: the message catalogue (gettext).

Message ids are the English texts with `{named}` fields; the catalogues live in
`locales/<locale>/LC_MESSAGES/vnh.po` (kept with `make messages`: pybabel extract and update)
and are read as they are, so a release needs no compiled `.mo` files. Chinese (zh-CN) is the
centre's default; English is the second language.
"""

from __future__ import annotations

import functools
import io
import logging
from datetime import datetime
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from care_api.domain.errors import InvalidInput
from care_api.domain.texts import TIME_FORMATS, Msg

log = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "vnh"
CHINESE = "zh-CN"
ENGLISH = "en"
# BCP 47 tags the service speaks, the default first.
LANGUAGES: tuple[str, ...] = (CHINESE, ENGLISH)
DEFAULT_LANGUAGE = CHINESE

_GETTEXT_LOCALE = {CHINESE: "zh_CN", ENGLISH: "en"}


def language_of(tag: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """The supported language a BCP 47 tag asks for (`zh`, `zh-Hans-CN` → zh-CN), else `default`."""
    if not tag:
        return default
    primary = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    if primary == "zh":
        return CHINESE
    if primary == "en":
        return ENGLISH
    return default


def checked_language(tag: str | None) -> str | None:
    """A person's language as given in the API: None, or a tag the service speaks."""
    if tag is None:
        return None
    primary = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    if primary not in {"zh", "en"}:
        raise InvalidInput(
            Msg(
                "language must be one of {allowed}, not {tag}",
                allowed=", ".join(LANGUAGES),
                tag=repr(tag),
            )
        )
    return language_of(tag)


def accept_language(header: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """The first supported language of an HTTP Accept-Language header, by its q weights."""
    if not header:
        return default
    weighted: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if tag and tag != "*" and q > 0:
            weighted.append((-q, i, tag))
    for _, _, tag in sorted(weighted):
        found = language_of(tag, default="")
        if found:
            return found
    return default


@functools.cache
def _translations(language: str) -> Translations:
    path = LOCALES_DIR / _GETTEXT_LOCALE[language] / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale=_GETTEXT_LOCALE[language], domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)  # fuzzy entries are left out, as gettext would
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def t(language: str | None, message: str, /, **fields: object) -> str:
    """`message` in `language` (the default when None), its `{fields}` filled in."""
    lang = language_of(language)
    text = _translations(lang).gettext(message)
    return text.format(**{n: _field(lang, v) for n, v in fields.items()}) if fields else text


def tn(language: str | None, singular: str, plural: str, n: int, /, **fields: object) -> str:
    """The singular or plural form for `n` in `language`; `{n}` and `{fields}` filled in."""
    lang = language_of(language)
    text = _translations(lang).ngettext(singular, plural, n)
    return text.format(n=n, **{name: _field(lang, v) for name, v in fields.items()})


def render(language: str | None, text: str) -> str:
    """`text` for a reader of `language`: a `Msg` in that language, any other text as it is."""
    return str(_field(language_of(language), text))


def format_time(language: str | None, at: datetime) -> str:
    """A time inside a text, in the one format of `language` (the console's own)."""
    return at.strftime(TIME_FORMATS[language_of(language)])


def _field(language: str, value: object) -> object:
    # A field that is itself a server-made text or a time is said in the reader's language.
    if isinstance(value, Msg):
        return t(language, value.key, **value.fields)
    if isinstance(value, datetime):
        return format_time(language, value)
    return value
