"""The grammar of SMS replies to alerts, pure: "1", "YES 0007", "好", "NO C-20261122-0007"."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

MAX_REPLY_CHARS = 160  # one SMS segment; anything longer is not an answer to an alert

ACCEPT_WORDS = ("1", "YES", "Y", "OK", "好", "是", "接")
DECLINE_WORDS = ("2", "NO", "N", "不", "否", "不行", "不是", "不好")
# The owner of a case is with the elder (the closed loop): "3", "HERE", "到了".
ARRIVE_WORDS = ("3", "HERE", "ON SITE", "ARRIVED", "到", "到了")
_WORDS = ACCEPT_WORDS + DECLINE_WORDS + ARRIVE_WORDS
_CJK_WORDS = "".join(w for w in _WORDS if not w.isascii())


class Answer(StrEnum):
    """What the person said about the case."""

    ACCEPT = "accept"
    DECLINE = "decline"
    ARRIVE = "arrive"


@dataclass(frozen=True, slots=True)
class Reply:
    """A parsed reply: the answer and, when they named one, the case it is about."""

    answer: Answer
    code: str | None = None  # "0007" or "C-20261122-0007"


def _alternation(words: tuple[str, ...]) -> str:
    # Longest first, so "不行" wins over "不" and "YES" over "Y".
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


# A word, then optionally a case code. Digits need a separator from a digit answer ("1 0007",
# "1,0007"), else "10007" would be ambiguous; a Chinese word may be followed directly ("好0007").
_REPLY = re.compile(
    rf"(?P<word>{_alternation(_WORDS)})"
    rf"(?:(?:\s+|\s*[,;:#]\s*|(?<=[{_CJK_WORDS}]))(?P<code>C-\d{{8}}-\d{{1,6}}|\d{{1,6}}))?"
)
_TRAILING = ".!?~ \t\r\n"


def parse_reply(text: str) -> Reply | None:
    """The answer in an SMS reply, or None when it is not one the grammar knows."""
    if len(text) > MAX_REPLY_CHARS:
        return None
    # NFKC folds full-width digits and letters ("１", "ＹＥＳ") and "，" into their ASCII forms.
    norm = unicodedata.normalize("NFKC", text).strip().rstrip(_TRAILING).upper()
    norm = norm.replace("。", "").replace("！", "")
    match = _REPLY.fullmatch(norm)
    if match is None:
        return None
    word = match["word"]
    answer = (
        Answer.ACCEPT
        if word in ACCEPT_WORDS
        else Answer.ARRIVE
        if word in ARRIVE_WORDS
        else Answer.DECLINE
    )
    return Reply(answer, match["code"])


def short_code(case_id: str) -> str:
    """The part of a case id a person types: "0007" for "C-20261122-0007"."""
    return case_id.rsplit("-", 1)[-1]


def matches_case(code: str, case_id: str) -> bool:
    """True when the code a person typed names `case_id`."""
    if code.upper() == case_id.upper():
        return True
    tail = short_code(case_id)
    return code.isdigit() and tail.isdigit() and int(code) == int(tail)
