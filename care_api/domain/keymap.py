"""Which case kind a press opens: the default keymap of PROTOCOL.md plus an elder's override."""

from __future__ import annotations

from collections.abc import Mapping

from care_api.domain.errors import InvalidInput
from care_api.domain.model import CaseKind

WILDCARD = "*"

DEFAULT_KEYMAP: Mapping[str, CaseKind] = {
    "main:long": CaseKind.EMERGENCY,
    "main:single": CaseKind.SERVICE,
    "main:double": CaseKind.CARE,
    "main:triple": CaseKind.EMERGENCY,
    "sos:*": CaseKind.EMERGENCY,
}


def validate_keymap(keymap: Mapping[str, str]) -> dict[str, CaseKind]:
    """Check the keys (`button:pattern`, `button:*`, `*`) and kinds of an override."""
    checked: dict[str, CaseKind] = {}
    for key, kind in keymap.items():
        if key != WILDCARD:
            button, sep, pattern = key.partition(":")
            if not sep or not button or not pattern:
                raise InvalidInput(
                    f"keymap key {key!r} must be 'button:pattern', 'button:*' or '*'"
                )
        try:
            checked[key] = CaseKind(kind)
        except ValueError:
            raise InvalidInput(f"keymap value {kind!r} is not a case kind") from None
    return checked


def case_kind_for_press(
    button: str, pattern: str, override: Mapping[str, str] | None = None
) -> CaseKind:
    """Map a press to a case kind: the elder's override first, then the default table.

    A button the table does not know reads as `main`, so a terminal with an extra button
    still opens a case the centre acts on rather than nothing.
    """
    for table in (override or {}, DEFAULT_KEYMAP):
        for key in (f"{button}:{pattern}", f"{button}:{WILDCARD}", WILDCARD):
            if key in table:
                return CaseKind(table[key])
    return CaseKind(DEFAULT_KEYMAP.get(f"main:{pattern}", CaseKind.SERVICE))
