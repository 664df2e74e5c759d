"""The SMS reply grammar: accept / decline words, optional case codes, anything else refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.replies import (
    ACCEPT_WORDS,
    DECLINE_WORDS,
    Answer,
    Reply,
    matches_case,
    parse_reply,
    short_code,
)
from care_api.domain.phones import InvalidPhone, e164_or_none, to_e164


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", Reply(Answer.ACCEPT)),
        (" yes ", Reply(Answer.ACCEPT)),
        ("Y.", Reply(Answer.ACCEPT)),
        ("好", Reply(Answer.ACCEPT)),
        ("是！", Reply(Answer.ACCEPT)),
        ("１", Reply(Answer.ACCEPT)),  # a full-width digit from a Chinese keyboard
        ("2", Reply(Answer.DECLINE)),
        ("no", Reply(Answer.DECLINE)),
        ("不", Reply(Answer.DECLINE)),
        ("不行", Reply(Answer.DECLINE)),
        ("1 0007", Reply(Answer.ACCEPT, "0007")),
        ("1,7", Reply(Answer.ACCEPT, "7")),
        ("YES C-20261122-0007", Reply(Answer.ACCEPT, "C-20261122-0007")),
        ("yes c-20261122-0007", Reply(Answer.ACCEPT, "C-20261122-0007")),
        ("好0007", Reply(Answer.ACCEPT, "0007")),
        ("N 12", Reply(Answer.DECLINE, "12")),
        ("3", Reply(Answer.ARRIVE)),
        ("on site", Reply(Answer.ARRIVE)),
        ("到了", Reply(Answer.ARRIVE)),
        ("3 0007", Reply(Answer.ARRIVE, "0007")),
    ],
)
def test_parse_reply_known_forms(text: str, expected: Reply) -> None:
    assert parse_reply(text) == expected


@pytest.mark.parametrize("text", ["", "10007", "4", "maybe", "yes please", "1 2 3", "Y" * 500])
def test_parse_reply_refuses_what_is_not_an_answer(text: str) -> None:
    assert parse_reply(text) is None


@given(st.text(max_size=200))
def test_parse_reply_never_raises(text: str) -> None:
    result = parse_reply(text)
    assert result is None or result.answer in tuple(Answer)


@given(
    st.sampled_from(ACCEPT_WORDS + DECLINE_WORDS),
    st.integers(min_value=1, max_value=9999),
    st.sampled_from([" ", "  ", ", ", ":"]),
    st.booleans(),
)
def test_parse_reply_word_and_code_round_trip(
    word: str, number: int, sep: str, lower: bool
) -> None:
    text = f"{word}{sep}{number:04d}"
    reply = parse_reply(text.lower() if lower else text)
    assert reply is not None
    assert reply.answer is (Answer.ACCEPT if word in ACCEPT_WORDS else Answer.DECLINE)
    assert reply.code is not None and matches_case(reply.code, f"C-20261122-{number:04d}")


def test_matches_case_by_number_or_full_id() -> None:
    assert short_code("C-20261122-0007") == "0007"
    assert matches_case("7", "C-20261122-0007")
    assert matches_case("c-20261122-0007", "C-20261122-0007")
    assert not matches_case("8", "C-20261122-0007")
    assert not matches_case("C-20261121-0007", "C-20261122-0007")


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+8613900000001", "+8613900000001"),
        ("+86 139 0000 0001", "+8613900000001"),
        ("139 0000 0001", "+8613900000001"),  # local input: the centre's region
        ("008613900000001", "+8613900000001"),
        ("+1 415 555 2671", "+14155552671"),
    ],
)
def test_to_e164_one_spelling_per_phone(raw: str, e164: str) -> None:
    assert to_e164(raw, "CN") == e164


@pytest.mark.parametrize("raw", ["", "+86138", "12345", "+4470000000001", "phone"])
def test_to_e164_refuses_what_is_no_valid_number(raw: str) -> None:
    with pytest.raises(InvalidPhone):
        to_e164(raw, "CN")
    assert e164_or_none(raw, "CN") is None


def test_numbers_sharing_their_last_11_digits_are_different_phones() -> None:
    # +1 390 000 0001 is no valid North American number: it names no phone, never the
    # Chinese mobile whose last 11 digits it shares.
    assert e164_or_none("+13900000001", "CN") != to_e164("+8613900000001", "CN")
