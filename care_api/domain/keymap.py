"""Where a press goes: the default keymap of PROTOCOL.md plus an elder's override.

A keymap value names a case kind (`care`) or a service line (`legal`); either decides the
other (see `domain.lines`), so a press always comes with both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from care_api.domain.errors import InvalidInput
from care_api.domain.lines import default_line, kind_for_line
from care_api.domain.model import CaseKind, ServiceLine
from care_api.domain.texts import Msg

WILDCARD = "*"

KeymapValue = CaseKind | ServiceLine

# PROTOCOL.md's table, extended by rows only: its `main` and `sos` meanings stay. A
# terminal with a key per line sends the line's name as `button` (`life` is short for
# `life_care`); a one-button terminal reaches emergency aid and life care by pattern, and
# the other lines through the call-back a single press asks for, where the operator or the
# hotline menu sets the line.
DEFAULT_KEYMAP: Mapping[str, KeymapValue] = {
    "main:long": CaseKind.EMERGENCY,
    "main:single": CaseKind.SERVICE,
    "main:double": CaseKind.CARE,
    "main:triple": CaseKind.EMERGENCY,
    "sos:*": CaseKind.EMERGENCY,
    "emergency:*": ServiceLine.EMERGENCY,
    "life:*": ServiceLine.LIFE_CARE,
    "life_care:*": ServiceLine.LIFE_CARE,
    "medical:*": ServiceLine.MEDICAL,
    "legal:*": ServiceLine.LEGAL,
    "care_home:*": ServiceLine.CARE_HOME,
}


@dataclass(frozen=True, slots=True)
class PressRoute:
    """What a press opens: the kind of case and the service line it is on."""

    kind: CaseKind
    line: ServiceLine | None


def parse_value(value: str) -> KeymapValue:
    """A keymap value as a case kind, else as a service line ("emergency" is both alike).

    Raises:
        ValueError: it is neither.
    """
    try:
        return CaseKind(value)
    except ValueError:
        pass
    try:
        return ServiceLine(value)
    except ValueError:
        raise InvalidInput(
            Msg("keymap value {value} is not a case kind or a service line", value=repr(value))
        ) from None


def route_of(value: KeymapValue) -> PressRoute:
    """The kind and line a keymap value stands for (`legal` → consult on the legal line)."""
    if isinstance(value, CaseKind):
        return PressRoute(value, default_line(value))
    return PressRoute(kind_for_line(value), value)


def validate_keymap(keymap: Mapping[str, str]) -> dict[str, KeymapValue]:
    """Check the keys (`button:pattern`, `button:*`, `*`) and values of an override."""
    checked: dict[str, KeymapValue] = {}
    for key, value in keymap.items():
        if key != WILDCARD:
            button, sep, pattern = key.partition(":")
            if not sep or not button or not pattern:
                raise InvalidInput(
                    f"keymap key {key!r} must be 'button:pattern', 'button:*' or '*'"
                )
        checked[key] = parse_value(str(value))
    return checked


def route_press(button: str, pattern: str, override: Mapping[str, str] | None = None) -> PressRoute:
    """Map a press to its kind and line: the elder's override first, then the default table.

    A button the table does not know reads as `main`, so a terminal with an extra button
    still opens a case the centre acts on rather than nothing.
    """
    for table in (override or {}, DEFAULT_KEYMAP):
        for key in (f"{button}:{pattern}", f"{button}:{WILDCARD}", WILDCARD):
            if key in table:
                return route_of(parse_value(str(table[key])))
    return route_of(DEFAULT_KEYMAP.get(f"main:{pattern}", CaseKind.SERVICE))


def case_kind_for_press(
    button: str, pattern: str, override: Mapping[str, str] | None = None
) -> CaseKind:
    """The case kind of a press (its line: `route_press`)."""
    return route_press(button, pattern, override).kind
