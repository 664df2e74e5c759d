"""The console's two language files: the same keys, and every key the scripts ask for."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

CONSOLE = Path(__file__).resolve().parents[2] / "care_api" / "http" / "console"
# t("key") and t(`prefix.${…}`): literal keys must exist; prefixes must have some key.
LITERAL = re.compile(r"""\bt\(\s*"([a-z0-9_.]+)"|"([a-z]+\.[a-z0-9_.]+)"(?=\s*[,)\]])""")
DYNAMIC = re.compile(r"\bt(?:Or)?\(\s*`([a-z_]+\.)\$\{")


def language(code: str) -> dict[str, str]:
    return dict(json.loads((CONSOLE / "i18n" / f"{code}.json").read_text(encoding="utf-8")))


def scripts() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(CONSOLE.glob("*.js")))


def test_console_languages_have_the_same_keys() -> None:
    assert set(language("en")) == set(language("zh"))


@pytest.mark.parametrize("code", ["en", "zh"])
def test_console_language_has_every_key_the_scripts_use(code: str) -> None:
    words = language(code)
    html = (CONSOLE / "index.html").read_text(encoding="utf-8")
    used = {a or b for a, b in LITERAL.findall(scripts())} | set(
        re.findall(r'data-i18n="([a-z0-9_.]+)"', html)
    )
    known_prefixes = {k.split(".", 1)[0] + "." for k in words}
    used = {k for k in used if k.split(".", 1)[0] + "." in known_prefixes}
    assert used, "the pattern found no keys"
    assert sorted(used - set(words)) == []
    for prefix in set(DYNAMIC.findall(scripts())):
        assert any(k.startswith(prefix) for k in words), prefix


@pytest.mark.parametrize("code", ["en", "zh"])
def test_console_language_names_every_kind_and_state(code: str) -> None:
    words = language(code)
    for name in ("emergency", "care", "service", "consult", "device"):
        assert f"kind.{name}" in words
    for name in ("open", "dispatched", "escalated", "accepted", "on_site", "resolved", "closed"):
        assert f"state.{name}" in words
