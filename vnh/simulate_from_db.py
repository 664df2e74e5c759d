"""`vnh simulate --from-db URL`: a scenario TOML made from the centre's own database.

What the database knows replaces the assumptions: the elders of each district (where they
live, how many give family and how many contacts, their languages), the active volunteers
and merchants (each counted in the district whose elders they live nearest), and the press
rates per kind and local hour from the real cases of the last days. How people answer is not
in the database: those keys are left out, so the scenario's documented defaults apply.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from care_api.domain.model import CaseKind, CaseState
from care_api.store.db import make_engine
from care_api.store.tables import Case, CheckinWindow, Contact, Elder, Merchant, Volunteer

DEFAULT_BOX = (29.05, 119.60, 29.15, 119.72)  # scenarios/district.toml's Wucheng box
PAD_DEG = 0.005  # ~500 m around a district's elders: one elder still makes a box
# Fewer cases than this (10 an hour of the day): the hour shape is the default one plus
# what was seen, so a quiet month does not leave hours with no press at all.
STEADY_CASES = 240
# A history shorter than a week misses the weekly rhythm: its rates are flagged as rough.
ROUGH_UNDER_DAYS = 7
DEFAULT_HOURS = (1, 1, 1, 1, 1, 2, 4, 6, 8, 8, 8, 7, 6, 6, 7, 7, 7, 6, 5, 4, 3, 2, 1, 1)
MIN_PERIOD = timedelta(hours=1)  # rates from less than this would be noise
UNNAMED = "unnamed"  # elders with no district, when other elders have one


@dataclass
class Area:
    """What the database says of one district."""

    name: str
    elders: int = 0
    with_family: int = 0
    contacts: int = 0
    lat: tuple[float, float] | None = None
    lon: tuple[float, float] | None = None
    languages: Counter[str] = field(default_factory=Counter)
    volunteers: int = 0
    merchants: int = 0

    def centre(self) -> tuple[float, float] | None:
        """The middle of the district's box, or None when no elder has a place."""
        if self.lat is None or self.lon is None:
            return None
        return (sum(self.lat) / 2, sum(self.lon) / 2)

    def box(self) -> tuple[float, float, float, float]:
        """lat_min, lon_min, lat_max, lon_max around its elders (padded), or the default."""
        if self.lat is None or self.lon is None:
            return DEFAULT_BOX
        return (
            self.lat[0] - PAD_DEG,
            self.lon[0] - PAD_DEG,
            self.lat[1] + PAD_DEG,
            self.lon[1] + PAD_DEG,
        )


@dataclass(frozen=True)
class Presses:
    """Press counts of the period by scenario kind, and by local hour."""

    days: float  # the period the cases came from (shorter when the centre is younger)
    by_kind: dict[str, int]
    by_hour: list[int]

    @property
    def total(self) -> int:
        """Every press counted."""
        return sum(self.by_kind.values())


def _spread(span: tuple[float, float] | None, value: float | None) -> tuple[float, float] | None:
    if value is None:
        return span
    return (value, value) if span is None else (min(span[0], value), max(span[1], value))


def read_areas(session: Session, *, centre_language: str) -> list[Area]:
    """The districts of the elders, with their volunteers and merchants placed nearest."""
    contacts = Counter(
        session.exec(select(Contact.elder_id).where(col(Contact.notify_only).is_(False))).all()
    )
    areas: dict[str, Area] = {}
    for elder in session.exec(select(Elder).order_by(col(Elder.id))).all():
        area = areas.setdefault(elder.district, Area(elder.district))
        area.elders += 1
        n = contacts.get(elder.id or 0, 0)
        area.with_family += 1 if n else 0
        area.contacts += n
        area.lat, area.lon = _spread(area.lat, elder.lat), _spread(area.lon, elder.lon)
        area.languages[elder.language or centre_language] += 1
    found = sorted(areas.values(), key=lambda a: a.name)
    if len(found) > 1:
        for area in found:
            area.name = area.name or UNNAMED
    if not found:
        return []
    volunteers = session.exec(
        select(Volunteer.lat, Volunteer.lon).where(col(Volunteer.active).is_(True))
    ).all()
    for v_lat, v_lon in volunteers:
        _nearest(found, v_lat, v_lon).volunteers += 1
    merchants = session.exec(
        select(Merchant.lat, Merchant.lon).where(col(Merchant.status) != "removed")
    ).all()
    for m_lat, m_lon in merchants:
        _nearest(found, m_lat, m_lon).merchants += 1
    return found


def _nearest(areas: Sequence[Area], lat: float | None, lon: float | None) -> Area:
    """The area whose box centre is nearest (flat: districts are a few km across)."""
    if lat is None or lon is None:
        return areas[0]

    def distance(area: Area) -> float:
        c = area.centre()
        return math.inf if c is None else math.hypot(c[0] - lat, c[1] - lon)

    return min(areas, key=distance)


def read_presses(session: Session, *, since: datetime, until: datetime, tz: tzinfo) -> Presses:
    """Real cases opened in `[since, until)` as the simulator's presses, by kind and hour.

    An emergency the elder cancelled before anyone answered is a false alarm (a long press
    cancelled); device and consultation cases come from no press and are left out.
    """
    rows = session.exec(
        select(Case.kind, Case.state, Case.acknowledged_at, Case.opened_at).where(
            col(Case.opened_at) >= since, col(Case.opened_at) < until, col(Case.drill).is_(False)
        )
    ).all()
    by_kind = dict.fromkeys(("emergency", "false_alarm", "service", "care"), 0)
    by_hour = [0] * 24
    for kind, state, acknowledged_at, opened_at in rows:
        name = _press_kind(CaseKind(kind), CaseState(state), acknowledged_at)
        if name is None:
            continue
        by_kind[name] += 1
        moment = opened_at if opened_at.tzinfo else opened_at.replace(tzinfo=since.tzinfo)
        by_hour[moment.astimezone(tz).hour] += 1
    return Presses((until - since) / timedelta(days=1), by_kind, by_hour)


@dataclass(frozen=True)
class Habits:
    """What the database says of check-in windows and merchants' hours (the most common)."""

    with_window: int = 0  # elders with an active check-in window
    window: tuple[str, str] | None = None
    merchant_hours: dict[str, list[str]] | None = None  # None: none set, always open


def read_habits(session: Session) -> Habits:
    """Elders with an active window and the commonest window; merchants' commonest hours."""
    rows = session.exec(
        select(CheckinWindow.elder_id, CheckinWindow.start, CheckinWindow.end).where(
            col(CheckinWindow.active).is_(True)
        )
    ).all()
    windows = Counter((start, end) for _, start, end in rows).most_common(1)
    hours = Counter(
        json.dumps(h, sort_keys=True)
        for h in session.exec(select(Merchant.hours).where(col(Merchant.status) != "removed")).all()
        if h is not None
    ).most_common(1)
    return Habits(
        with_window=len({elder for elder, _, _ in rows}),
        window=windows[0][0] if windows else None,
        merchant_hours=json.loads(hours[0][0]) if hours else None,
    )


def _habit_lines(habits: Habits, elders: int, *, merchants_written: bool) -> list[str]:
    out = []
    if habits.merchant_hours is not None:
        if not merchants_written:
            out.append("[merchants]")
        table = ", ".join(
            f"{day} = {json.dumps(spans)}" for day, spans in habits.merchant_hours.items()
        )
        out += [f"hours = {{ {table} }}  # the commonest opening hours of the merchants", ""]
    if habits.with_window and habits.window and elders:
        out += [
            "[checkins]",
            f"share = {_num(habits.with_window / elders)}  # {habits.with_window} of {elders} "
            "elders have a window",
            f"window = {json.dumps(list(habits.window))}  # the commonest",
            "",
        ]
    return out


def _press_kind(kind: CaseKind, state: CaseState, acknowledged_at: datetime | None) -> str | None:
    if kind is CaseKind.EMERGENCY:
        cancelled = state is CaseState.CANCELLED and acknowledged_at is None
        return "false_alarm" if cancelled else "emergency"
    if kind in (CaseKind.SERVICE, CaseKind.CARE):
        return kind.value
    return None


def hour_weights(by_hour: Sequence[int]) -> list[float]:
    """The hour shape: the counts themselves once steady, else blended with the default."""
    total = sum(by_hour)
    if total >= STEADY_CASES:
        return [float(n) for n in by_hour]
    scale = (STEADY_CASES - total) / sum(DEFAULT_HOURS)
    return [round(n + d * scale, 2) for n, d in zip(by_hour, DEFAULT_HOURS, strict=True)]


# -- the TOML ----------------------------------------------------------------------------------


def _s(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


def _num(value: float) -> str:
    return f"{value:.6g}"


def _period(days: float) -> str:
    """A period for a comment: in days from one day up, else in hours or minutes."""
    if days >= 1:
        n, unit = days, "day"
    elif days * 24 >= 1:
        n, unit = days * 24, "hour"
    else:
        n, unit = days * 24 * 60, "minute"
    text = f"{n:.3g}"
    return f"{text} {unit}" if text == "1" else f"{text} {unit}s"


def _list(values: Iterable[float]) -> str:
    return "[" + ", ".join(_num(v) for v in values) + "]"


def _district_lines(area: Area) -> list[str]:
    family_count = round(area.contacts / area.with_family) if area.with_family else 1
    langs = area.languages
    total = sum(langs.values()) or 1
    shares = ", ".join(f"{_s(k)} = {_num(v / total)}" for k, v in sorted(langs.items()))
    share = area.with_family / area.elders if area.elders else 0.0
    return [
        f"elders = {area.elders}",
        f"box = {_list(area.box())}"
        + ("" if area.centre() else "  # no elder has a place: the default box"),
        f"family_share = {_num(share)}  # {area.with_family} of {area.elders} elders give family",
        f"family_count = {max(1, family_count)}  # contacts paged per elder with family (mean)",
        f"languages = {{ {shares} }}",
    ]


def scenario_toml(
    areas: Sequence[Area],
    presses: Presses,
    *,
    source: str,
    generated_at: datetime,
    habits: Habits | None = None,
) -> str:
    """The scenario text: what the database says, with where each figure comes from."""
    out = [
        f"# Made by `vnh simulate --from-db` from {source} at {generated_at.isoformat()}.",
        "# Keys not given keep the documented defaults (scenarios/district.toml): how people",
        "# answer is not in the database; replace those with the centre's own figures.",
        "",
        'name = "from database"',
        "",
    ]
    if not areas:
        out += ["# The database has no elders: the default district.", ""]
    elif len(areas) == 1 and not areas[0].name:
        out += ["[district]", *_district_lines(areas[0]), ""]
    else:
        for area in areas:
            out += [
                "[[district]]",
                f"name = {_s(area.name)}",
                *_district_lines(area),
                f"volunteers = {area.volunteers}  # active volunteers living nearest",
                f"merchants = {area.merchants}  # merchants nearest",
                "",
            ]
    elders = sum(a.elders for a in areas)
    out.append("[presses]")
    if presses.total and elders:
        out.append(
            f"# From the {presses.total} real cases of the last {_period(presses.days)} "
            f"({elders} elders)."
        )
        if presses.days < ROUGH_UNDER_DAYS:
            # A young centre's first hours (a demo, a pilot's first day) are no week's shape.
            out.append(
                f"# Under {ROUGH_UNDER_DAYS} days of history: these rates are rough; "
                "check them against what the centre expects."
            )
        for kind, n in presses.by_kind.items():
            rate = n / elders / presses.days
            out.append(f"{kind}_per_elder_day = {_num(rate)}  # {n} cases")
        steady = presses.total >= STEADY_CASES
        out.append(
            "# Cases per local hour"
            + ("" if steady else f", blended with the default shape (under {STEADY_CASES} cases)")
        )
        out.append(f"hour_weights = {_list(hour_weights(presses.by_hour))}")
    else:
        out.append(f"# No real case in the last {_period(presses.days)}: the default rates.")
    out.append("")
    one = len(areas) == 1 and not areas[0].name
    if one:
        volunteers, merchants = areas[0].volunteers, areas[0].merchants
        out += ["[volunteers]", f"count = {volunteers}  # active volunteers", ""]
        out += ["[merchants]", f"count = {merchants}  # merchants not removed"]
        out += [] if habits and habits.merchant_hours else [""]
    if habits is not None:
        out += _habit_lines(habits, elders, merchants_written=one)
    return "\n".join(out)


def scenario_from_db(
    url: str,
    *,
    now: datetime,
    history_days: int = 30,
    timezone: str = "Asia/Shanghai",
    centre_language: str = "zh-CN",
) -> str:
    """The scenario TOML of the centre at `url`, its rates from the last `history_days`."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            areas = read_areas(session, centre_language=centre_language)
            since = now - timedelta(days=history_days)
            # A centre younger than the period: its rates over the days it has run.
            first = session.exec(select(func.min(Elder.created_at))).one()
            if first is not None:
                first = first if first.tzinfo else first.replace(tzinfo=now.tzinfo)
                since = min(max(since, first), now - MIN_PERIOD)
            presses = read_presses(session, since=since, until=now, tz=ZoneInfo(timezone))
            habits = read_habits(session)
    finally:
        engine.dispose()
    return scenario_toml(areas, presses, source=_safe(url), generated_at=now, habits=habits)


def _safe(url: str) -> str:
    # A password in the URL never goes into the file.
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"
