"""Marks a text the service says to a person, for the message catalogue; pure.

`N_` returns its argument unchanged: the domain names texts (what a terminal says of its
case) without knowing languages; whoever speaks to the person renders them with
`care_api.i18n.t` in that person's language, and `make messages` finds them by the marker.
"""

from __future__ import annotations


def N_(text: str) -> str:
    """`text` itself, marked for extraction into the catalogue."""
    return text
