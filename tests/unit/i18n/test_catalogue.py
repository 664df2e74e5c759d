"""The message catalogues: complete for every text the code uses, fields intact, Chinese first."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from care_api.domain.errors import InvalidInput
from care_api.i18n import (
    CHINESE,
    DEFAULT_LANGUAGE,
    ENGLISH,
    LOCALES_DIR,
    accept_language,
    checked_language,
    language_of,
    t,
)

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("care_api", "alerts", "device_gateway", "vnh")
KEYWORDS = {"t": (2,), "tn": (2, 3), "N_": (1,), "Msg": (1,)}


def used_messages() -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    for package in PACKAGES:
        for _file, _line, message, _comments, _ctx in extract_from_dir(
            ROOT / package, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            found.add(message if isinstance(message, tuple) else (message,))
    return found


def catalogue(locale: str):
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "vnh.po").open("rb") as po:
        return read_po(po, locale=locale)


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_catalogue_has_every_message_the_code_uses(locale: str) -> None:
    known = catalogue(locale)
    missing = [m[0] for m in used_messages() if m[0] not in known]
    assert not missing, f"{locale} lacks {missing} (run `make messages` and translate)"


def test_catalogue_chinese_translates_every_message_with_the_same_fields() -> None:
    zh = catalogue("zh_CN")
    for message in zh:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        texts = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(texts) and not message.fuzzy, f"untranslated: {ids[0]!r}"
        # Chinese has one plural form: it takes the fields of the English plural ("{n}").
        expected = fields(ids[-1])
        for text in texts:
            assert fields(text) == expected, f"fields differ: {ids[-1]!r} → {text!r}"
            # A Chinese text a person reads carries no English sentence (names and codes aside).
            assert not re.search(r"[A-Za-z]{3,} [a-z]{2,} [a-z]{2,}", text), text


def test_language_of_maps_bcp47_tags_to_the_two_languages() -> None:
    assert language_of(None) == DEFAULT_LANGUAGE == CHINESE
    assert language_of("zh-Hans-CN") == CHINESE
    assert language_of("en-GB") == ENGLISH
    assert language_of("fr") == CHINESE
    assert checked_language("zh") == CHINESE
    assert checked_language(None) is None
    with pytest.raises(InvalidInput):
        checked_language("fr-FR")


def test_accept_language_takes_the_best_weighted_supported_tag() -> None:
    assert accept_language("fr;q=1, en;q=0.8, zh;q=0.5") == ENGLISH
    assert accept_language("zh-CN,zh;q=0.9,en;q=0.8") == CHINESE
    assert accept_language("de, *;q=0.1") == CHINESE
    assert accept_language(None) == CHINESE


def test_t_without_a_translation_falls_back_to_the_english_text() -> None:
    assert t(ENGLISH, "A text nobody translated, {who}", who="Li") == (
        "A text nobody translated, Li"
    )
