"""Marks a text the service says to a person, for the message catalogue; pure.

`N_` returns its argument unchanged: the domain names texts (what a terminal says of its
case) without knowing languages; whoever speaks to the person renders them with
`care_api.i18n.t` in that person's language, and `make messages` finds them by the marker.

`Msg` is a text the server makes for a reader it does not know yet (a case title, a history
line, a console flag): it reads as its English text wherever a string is expected, and keeps
its catalogue key and fields so the API can render it in the reader's language later.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Self, TypeAlias

# One format per language for a time inside a server-made text.
TIME_FORMATS = {"en": "%Y-%m-%d %H:%M", "zh-CN": "%Y年%m月%d日 %H:%M"}
ENGLISH_TIME_FORMAT = TIME_FORMATS["en"]

Field: TypeAlias = "str | int | float | datetime | Msg | None"


def N_(text: str) -> str:
    """`text` itself, marked for extraction into the catalogue."""
    return text


def _english(value: Field) -> str:
    if isinstance(value, datetime):
        return value.strftime(ENGLISH_TIME_FORMAT)
    return str(value)


class Msg(str):
    """A catalogue text with its fields; its string value is the English rendering."""

    key: str
    fields: dict[str, Field]

    def __new__(cls, key: str, /, **fields: Field) -> Self:
        # Formatted even without fields: a key that names a field it lacks is a KeyError here.
        english = key.format(**{name: _english(v) for name, v in fields.items()})
        text = super().__new__(cls, english)
        text.key = key
        text.fields = dict(fields)
        return text

    def to_json(self) -> dict[str, Any]:
        """The stored form: {"key": …, "fields": {…}}, times as {"time": iso}."""
        return {"key": self.key, "fields": {n: _encode(v) for n, v in self.fields.items()}}

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> Msg:
        """The text `to_json` stored (a key missing its fields reads as the bare key)."""
        fields = stored.get("fields") or {}
        return cls(str(stored["key"]), **{n: _decode(v) for n, v in fields.items()})


def _encode(value: Field) -> object:
    if isinstance(value, Msg):
        return value.to_json()
    if isinstance(value, datetime):
        return {"time": value.isoformat()}
    if value is None or isinstance(value, (int, float)):
        return value
    return str(value)  # an enum or any other value: as the English text shows it


def _decode(value: object) -> Field:
    if isinstance(value, Mapping):
        if "time" in value:
            return datetime.fromisoformat(str(value["time"]))
        return Msg.from_json(value)
    if value is None or isinstance(value, (int, float)):
        return value
    return str(value)


def msg_json(text: str | None) -> dict[str, Any] | None:
    """The stored form of `text` when it is a `Msg`, else None (a plain text stays as it is)."""
    return text.to_json() if isinstance(text, Msg) else None


def stored_text(text: str, stored: Mapping[str, Any] | None) -> str:
    """The text a row holds: its `Msg` when it kept one (rows before 0024 did not)."""
    if not stored:
        return text
    try:
        return Msg.from_json(stored)
    except (KeyError, IndexError, ValueError):
        return text  # a key whose fields no longer fit: the English text as it was written


# Words the server puts inside its texts (a button, a press pattern, a channel, a matter),
# said in the reader's language; any other word (a name, a code) stays as it is.
TERMS: dict[str, str] = {
    word: word
    for word in (
        N_("call 120"),
        N_("CALL 120"),
        N_("main"),
        N_("sos"),
        N_("emergency"),
        N_("life"),
        N_("life_care"),
        N_("medical"),
        N_("legal"),
        N_("care_home"),
        N_("single"),
        N_("double"),
        N_("triple"),
        N_("long"),
        N_("open"),
        N_("dispatched"),
        N_("escalated"),
        N_("accepted"),
        N_("on site"),
        N_("resolved"),
        N_("closed"),
        N_("cancelled"),
        N_("care"),
        N_("service"),
        N_("consult"),
        N_("device"),
        N_("active"),
        N_("yellow"),
        N_("red"),
        N_("removed"),
        N_("sms"),
        N_("voice"),
        N_("api"),
        N_("console"),
        N_("operators"),  # the console's audience, as a message's "to"
        N_("connected"),
        N_("heartbeat"),
        N_("order"),
        N_("sign of life"),
        N_("department"),
        N_("general"),
        N_("complaint"),
        N_("elder"),  # the party of a call
        # Twilio's call statuses, inside the history line of a call that did not connect.
        N_("busy"),
        N_("no-answer"),
        N_("no answer"),
        N_("failed"),
        N_("canceled"),
    )
}


def term(word: str) -> str:
    """`word` as a `Msg` when the catalogue knows it, else `word` itself."""
    return Msg(word) if word in TERMS else word


def state_word(state: str) -> str:
    """A case state as a person reads it ("on site", "已到场")."""
    return term(str(state).replace("_", " "))


def joined(items: Sequence[str]) -> str:
    """`items` as one list ("a, b, c"), each said in the reader's language."""
    if not items:
        return ""
    text: str = Msg("{reason}", reason=items[0])
    for item in items[1:]:
        text = Msg("{first}, {then}", first=text, then=item)
    return text
