"""The callback (回访) asked by keys: its questions, what each key means, and when to call."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta, tzinfo

from care_api.domain.texts import Msg
from care_api.domain.workdays import MAX_SCAN_DAYS, WorkCalendar

OK = "ok"  # reached, and is all well now? 1 yes, 2 no (someone still has to help)
SATISFACTION = "satisfaction"  # 1–5
TIME_OK = "time_ok"  # did help come on time? 1 yes, 2 no
PRICE_OK = "price_ok"  # was the price fair? 1 yes, 2 no; only where a merchant served
MAX_ATTEMPTS = 3  # unreached this often, the callback falls back to an operator
MAX_ASKS = 2  # a question unanswered (or answered with a wrong key) this often ends the call


def questions(merchant_served: bool) -> tuple[str, ...]:
    """The questions in the order asked; the price only where a merchant served."""
    base = (OK, SATISFACTION, TIME_OK)
    return (*base, PRICE_OK) if merchant_served else base


def read_key(question: str, digits: str) -> bool | int | None:
    """The answer a key gives to `question`; None for a key that answers nothing (ask again)."""
    key = digits.strip()
    if question == SATISFACTION:
        return int(key) if key in {"1", "2", "3", "4", "5"} else None
    if key in {"1", "2"}:
        return key == "1"
    return None


def next_question(asked: str, order: tuple[str, ...]) -> str | None:
    """The question after `asked`, or None when the callback is complete."""
    if asked not in order:
        return order[0] if order else None
    index = order.index(asked) + 1
    return order[index] if index < len(order) else None


def callback_result(answers: Mapping[str, object]) -> dict[str, object]:
    """The typed callback row's fields from the keys pressed (the elder was reached)."""
    return {
        "reached": True,
        "satisfaction": answers.get(SATISFACTION),
        "time_ok": answers.get(TIME_OK),
        "price_ok": answers.get(PRICE_OK),
        "comment": "callback by machine",
    }


def callback_slot(
    at: datetime, *, tz: tzinfo, calendar: WorkCalendar, start_hour: int, end_hour: int
) -> datetime:
    """The first moment from `at` that falls in the centre's working hours on a working day.

    Working hours are `[start_hour, end_hour)` local time; a callback never rings at night.
    """
    if not 0 <= start_hour < end_hour <= 24:
        raise ValueError(f"working hours {start_hour}-{end_hour} are no span of a day")
    local = at.astimezone(tz)
    for _ in range(MAX_SCAN_DAYS):
        day = local.date()
        opens = datetime.combine(day, time(start_hour), tzinfo=tz)
        closes = opens + timedelta(hours=end_hour - start_hour)
        if calendar.is_working_day(day) and local < closes:
            return max(local, opens).astimezone(at.tzinfo)
        local = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    raise ValueError("the calendar has no working day for ten years")


def callback_line(result: Mapping[str, object]) -> Msg:
    """The history line of a callback's answers, in the reader's language when rendered.

    Answers not given read as a dash; the comment is the operator's or elder's own words.
    """

    def yes_no(value: object) -> Msg | str:
        if value is None:
            return "–"
        return Msg("yes") if value else Msg("no")

    def score(value: object) -> str:
        return "–" if value is None else f"{value}/5"

    comment = str(result.get("comment") or "")
    return Msg(
        "Callback: reached {reached}; on time {time_ok}; service {quality}; price fair "
        "{price_ok}; satisfaction {satisfaction}. {comment}",
        reached=yes_no(result.get("reached", True)),
        time_ok=yes_no(result.get("time_ok")),
        quality=score(result.get("quality")),
        price_ok=yes_no(result.get("price_ok")),
        satisfaction=score(result.get("satisfaction")),
        comment=comment,
    )
