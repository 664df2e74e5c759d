"""Bulk import of elders (with contacts and terminals), volunteers and merchants.

One core for the console and `vnh import`: the whole file is checked first and every bad row
reported with its row number and reason; nothing is written unless the caller commits and
no row is bad. Running the same file twice adds nothing: each record has a natural key.

Natural keys: an elder is (name, phone in E.164); a contact is (elder, phone); a terminal is
its device id; a volunteer or a merchant is its phone. A row whose key exists is left as it
is (the import adds, it never edits): its missing contacts and terminal are added.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import insert
from sqlmodel import Session, col, select

from care_api.domain.errors import InvalidInput
from care_api.domain.fleet import DEFAULT_HEARTBEAT_S
from care_api.domain.phones import DEFAULT_REGION, to_e164
from care_api.domain.texts import Msg
from care_api.domain.volunteering import WEEKDAYS, validate_availability
from care_api.i18n import checked_language, t
from care_api.store.tables import (
    Contact,
    Device,
    DeviceHistory,
    DeviceModel,
    Elder,
    Merchant,
    Volunteer,
)
from care_api.usecases.fleet.broker_passwords import broker_name_problem, mosquitto_hash
from care_api.usecases.onboarding.sheets import Sheet, normalise_column
from care_api.usecases.people.credentials import hash_secret, new_secret

CONTACT_SLOTS = 3
MAX_LIST_WORDS = 20
# Headers a Chinese centre's own sheet is likely to have, mapped to the import's names.
ALIASES = {
    "姓名": "name",
    "名称": "name",
    "电话": "phone",
    "手机": "phone",
    "地址": "address",
    "街道": "district",
    "区域": "district",
    "语言": "language",
    "纬度": "lat",
    "经度": "lon",
    "门禁说明": "access_notes",
    "病史": "medical_notes",
    "终端": "terminal",
    "技能": "skills",
    "时间": "hours",
    "类别": "categories",
    "评分": "rating",
}


class ImportKind(StrEnum):
    """What a file holds."""

    ELDERS = "elders"
    VOLUNTEERS = "volunteers"
    MERCHANTS = "merchants"


_CONTACT_COLUMNS = tuple(
    f"contact{n}_{part}"
    for n in range(1, CONTACT_SLOTS + 1)
    for part in ("name", "phone", "relation", "language")
)
REQUIRED: dict[ImportKind, frozenset[str]] = {
    ImportKind.ELDERS: frozenset({"name", "phone"}),
    ImportKind.VOLUNTEERS: frozenset({"name", "phone", "lat", "lon"}),
    ImportKind.MERCHANTS: frozenset({"name", "phone", "categories"}),
}
OPTIONAL: dict[ImportKind, frozenset[str]] = {
    ImportKind.ELDERS: frozenset(
        {
            "address",
            "district",
            "language",
            "lat",
            "lon",
            "access_notes",
            "medical_notes",
            "terminal",
            "terminal_model",
            "terminal_secret",
            *_CONTACT_COLUMNS,
        }
    ),
    ImportKind.VOLUNTEERS: frozenset({"skills", "hours", "language"}),
    ImportKind.MERCHANTS: frozenset({"lat", "lon", "rating", "hours", "language"}),
}


@dataclass(frozen=True, slots=True)
class Problem:
    """Why one row (or the header, row 1) cannot be imported."""

    row: int
    column: str
    reason: str


@dataclass
class ImportReport:
    """What the file would add (or added, when committed), and every bad row."""

    kind: ImportKind
    rows: int = 0
    new: int = 0
    unchanged: int = 0
    new_contacts: int = 0
    new_terminals: int = 0
    problems: list[Problem] = field(default_factory=list)
    committed: bool = False
    # Secrets of the terminals this import registered without one given: shown only now.
    secrets: list[tuple[str, str]] = field(default_factory=list)


class _Row:
    """One row's cells and the problems found reading them."""

    def __init__(self, number: int, cells: Mapping[str, str], lang: str, region: str) -> None:
        self.number = number
        self.cells = cells
        self.lang = lang
        self.region = region
        self.problems: list[Problem] = []

    def bad(self, column: str, reason: str) -> None:
        self.problems.append(Problem(self.number, column, reason))

    def text(self, column: str, max_chars: int, *, required: bool = False) -> str:
        value = self.cells.get(column, "").strip()
        if required and not value:
            self.bad(column, t(self.lang, "{column} is required", column=column))
        elif len(value) > max_chars:
            self.bad(column, t(self.lang, "longer than {max} characters", max=max_chars))
        return value[:max_chars]

    def phone(self, column: str, *, required: bool = False) -> str | None:
        value = self.text(column, 32, required=required)
        if not value:
            return None
        try:
            return to_e164(value, self.region)
        except InvalidInput:
            self.bad(column, t(self.lang, "{value} is not a valid phone number", value=value))
            return None

    def decimal(
        self, column: str, low: float, high: float, *, required: bool = False
    ) -> float | None:
        value = self.text(column, 32, required=required)
        if not value:
            return None
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not low <= number <= high:  # NaN fails this too
            self.bad(
                column,
                t(
                    self.lang,
                    "{value} is not a number from {low} to {high}",
                    value=value,
                    low=low,
                    high=high,
                ),
            )
            return None
        return number

    def language(self, column: str) -> str | None:
        value = self.text(column, 16)
        if not value:
            return None
        try:
            return checked_language(value)
        except InvalidInput:
            self.bad(column, t(self.lang, "language must be zh-CN or en"))
            return None

    def words(self, column: str, *, required: bool = False) -> list[str]:
        value = self.text(column, 1000, required=required)
        words = sorted({w.strip().lower() for w in re.split(r"[;,、，；]", value) if w.strip()})
        if len(words) > MAX_LIST_WORDS or any(len(w) > 64 for w in words):
            self.bad(
                column, t(self.lang, "at most {n} words of up to 64 characters", n=MAX_LIST_WORDS)
            )
            return []
        return words

    def hours(self, column: str) -> dict[str, list[str]] | None:
        value = self.text(column, 1000)
        if not value:
            return None
        try:
            return parse_hours(value)
        except InvalidInput:
            self.bad(
                column,
                t(
                    self.lang,
                    "hours must look like: mon-fri 08:00-12:00 14:00-18:00; sat 09:00-12:00",
                ),
            )
            return None


def parse_hours(text: str) -> dict[str, list[str]]:
    """`"mon-fri 08:00-12:00 14:00-18:00; sat 09:00-12:00"` → weekday → spans (checked)."""
    table: dict[str, list[str]] = {}
    for part in re.split(r"[;；\n]", text):
        words = part.replace(",", " ").split()
        if not words:
            continue
        days, spans = words[0].lower(), words[1:]
        if not spans:
            raise InvalidInput(Msg("no hours given for '{days}'", days=days))
        first, _, last = days.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise InvalidInput(Msg("'{days}' is not a weekday or a range like mon-fri", days=days))
        start = WEEKDAYS.index(first)
        end = WEEKDAYS.index(last) if last else start
        if end < start:
            raise InvalidInput(Msg("'{days}' runs backwards", days=days))
        for day in WEEKDAYS[start : end + 1]:
            table.setdefault(day, []).extend(spans)
    if not table:
        raise InvalidInput(Msg("no hours given"))
    return validate_availability(table)


def _header_problems(sheet: Sheet, kind: ImportKind, lang: str) -> list[Problem]:
    known = REQUIRED[kind] | OPTIONAL[kind]
    problems = [
        Problem(1, column, t(lang, "this column is missing"))
        for column in sorted(REQUIRED[kind] - set(sheet.columns))
    ]
    problems += [
        Problem(
            1, column, t(lang, "unknown column (known: {known})", known=", ".join(sorted(known)))
        )
        for column in sheet.columns
        if column not in known
    ]
    seen: set[str] = set()
    for column in sheet.columns:
        if column in seen:
            problems.append(Problem(1, column, t(lang, "this column appears twice")))
        seen.add(column)
    return problems


def canonical(sheet: Sheet) -> Sheet:
    """The sheet with Chinese header aliases replaced by the import's column names."""
    names = {c: ALIASES.get(c, c) for c in sheet.columns}
    if all(k == v for k, v in names.items()):
        return sheet
    return Sheet(
        columns=tuple(names[c] for c in sheet.columns),
        rows=tuple((n, {names.get(k, k): v for k, v in cells.items()}) for n, cells in sheet.rows),
    )


@dataclass
class _ElderPlan:
    row: int
    fields: dict[str, object]
    key: tuple[str, str]
    contacts: list[dict[str, object]]
    terminal: str | None
    terminal_model: str | None
    terminal_secret: str | None
    elder_id: int | None = None  # set when the elder already exists


def _read_elder(row: _Row, service_accounts: Collection[str]) -> _ElderPlan | None:
    name = row.text("name", 200, required=True)
    phone = row.phone("phone", required=True)
    fields: dict[str, object] = {
        "name": name,
        "phone": phone,
        "address": row.text("address", 500),
        "district": row.text("district", 64),
        "language": row.language("language"),
        "lat": row.decimal("lat", -90, 90),
        "lon": row.decimal("lon", -180, 180),
        "access_notes": row.text("access_notes", 1000),
        "medical_notes": row.text("medical_notes", 4000),
    }
    if (fields["lat"] is None) != (fields["lon"] is None) and not row.problems:
        row.bad("lat", t(row.lang, "give both lat and lon, or neither"))
    contacts: list[dict[str, object]] = []
    for n in range(1, CONTACT_SLOTS + 1):
        given = any(
            row.cells.get(f"contact{n}_{p}", "").strip() for p in ("name", "phone", "relation")
        )
        if not given:
            continue
        contact: dict[str, object] = {
            "name": row.text(f"contact{n}_name", 200, required=True),
            "phone": row.phone(f"contact{n}_phone", required=True),
            "relation": row.text(f"contact{n}_relation", 64),
            "language": row.language(f"contact{n}_language"),
            "priority": n,
        }
        contacts.append(contact)
    terminal = row.text("terminal", 64) or None
    if terminal is not None:
        problem = broker_name_problem(terminal, service_accounts)
        if problem is not None:
            row.bad("terminal", t(row.lang, "not a usable terminal id: {problem}", problem=problem))
    secret = row.text("terminal_secret", 200) or None
    if secret is not None and len(secret) < 16:
        row.bad("terminal_secret", t(row.lang, "a terminal secret has at least 16 characters"))
    if row.problems or phone is None:
        return None
    return _ElderPlan(
        row=row.number,
        fields=fields,
        key=(name, phone),
        contacts=contacts,
        terminal=terminal,
        terminal_model=row.text("terminal_model", 64) or None,
        terminal_secret=secret,
    )


def _plan_elders(
    session: Session,
    sheet: Sheet,
    report: ImportReport,
    lang: str,
    region: str,
    service_accounts: Collection[str],
) -> list[_ElderPlan]:
    plans: list[_ElderPlan] = []
    first_row_of: dict[tuple[str, str], int] = {}
    terminal_row: dict[str, int] = {}
    for number, cells in sheet.rows:
        row = _Row(number, cells, lang, region)
        plan = _read_elder(row, service_accounts)
        if plan is not None:
            earlier = first_row_of.setdefault(plan.key, number)
            if earlier != number:
                row.bad("name", t(lang, "the same elder as row {row}", row=earlier))
            if plan.terminal is not None:
                earlier = terminal_row.setdefault(plan.terminal, number)
                if earlier != number:
                    row.bad("terminal", t(lang, "the same terminal as row {row}", row=earlier))
        report.problems += row.problems
        if plan is not None and not row.problems:
            plans.append(plan)
    existing = {
        (name, phone): elder_id
        for elder_id, name, phone in session.exec(select(Elder.id, Elder.name, Elder.phone)).all()
    }
    for plan in plans:
        plan.elder_id = existing.get(plan.key)
    wanted = [p.terminal for p in plans if p.terminal is not None]
    bound: dict[str, int | None] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        bound.update(
            session.exec(
                select(Device.device_id, Device.elder_id).where(col(Device.device_id).in_(chunk))
            ).all()
        )
    for plan in plans:
        if plan.terminal in bound and (
            plan.elder_id is None or bound[plan.terminal] != plan.elder_id
        ):
            report.problems.append(
                Problem(
                    plan.row,
                    "terminal",
                    t(
                        lang,
                        "terminal {device} is already registered for another elder",
                        device=plan.terminal,
                    ),
                )
            )
    bad_rows = {q.row for q in report.problems}
    return [p for p in plans if p.row not in bad_rows]


def _write_elders(
    session: Session,
    plans: list[_ElderPlan],
    report: ImportReport,
    now: datetime,
    by: str,
    *,
    commit: bool,
) -> None:
    ids = [p.elder_id for p in plans if p.elder_id is not None]
    have_contacts: set[tuple[int, str]] = set()
    have_devices: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        have_contacts.update(
            session.exec(
                select(Contact.elder_id, Contact.phone).where(col(Contact.elder_id).in_(chunk))
            ).all()
        )
        have_devices.update(
            session.exec(select(Device.device_id).where(col(Device.elder_id).in_(chunk))).all()
        )
    new_elders = [p for p in plans if p.elder_id is None]
    report.new = len(new_elders)
    report.unchanged = len(plans) - len(new_elders)
    for plan in plans:
        key = plan.elder_id
        report.new_contacts += sum(
            1 for c in plan.contacts if key is None or (key, str(c["phone"])) not in have_contacts
        )
        report.new_terminals += int(plan.terminal is not None and plan.terminal not in have_devices)
    if not commit:
        return
    # Core bulk INSERTs (executemany): ten thousand elders in seconds, not one ORM object
    # per row. The elders' new ids come back in the order of the rows given.
    if new_elders:
        rows = [{**p.fields, "keymap_override": None, "created_at": now} for p in new_elders]
        new_ids = session.scalars(
            insert(Elder).returning(col(Elder.id), sort_by_parameter_order=True), rows
        ).all()
        for plan, elder_id in zip(new_elders, new_ids, strict=True):
            plan.elder_id = elder_id
    heartbeats = {m.model: m.heartbeat_s for m in session.exec(select(DeviceModel)).all()}
    contacts: list[dict[str, object]] = []
    devices: list[dict[str, object]] = []
    history: list[dict[str, object]] = []
    for plan in plans:
        elder_id = plan.elder_id or 0
        contacts += [
            {"notify_only": False, "drill_opt_in": False, **c, "elder_id": elder_id}
            for c in plan.contacts
            if (elder_id, str(c["phone"])) not in have_contacts
        ]
        if plan.terminal is None or plan.terminal in have_devices:
            continue
        secret = plan.terminal_secret or new_secret()
        if plan.terminal_secret is None:
            report.secrets.append((plan.terminal, secret))
        devices.append(
            {
                "device_id": plan.terminal,
                "elder_id": elder_id,
                "secret_hash": hash_secret(secret),
                "broker_hash": mosquitto_hash(secret),
                "status": "active",
                "created_at": now,
                "model": plan.terminal_model,
                "heartbeat_s": heartbeats.get(plan.terminal_model or "", DEFAULT_HEARTBEAT_S),
                "battery_low": False,
                "power_lost": False,
            }
        )
        history.append(
            {
                "device_id": plan.terminal,
                "at": now,
                "by": by[:100],
                "action": "provisioned",
                "elder_id": elder_id,
                "detail": f"elder {elder_id} (import)",
            }
        )
    for table, rows in ((Contact, contacts), (Device, devices), (DeviceHistory, history)):
        if rows:
            session.execute(insert(table), rows)


def _plan_people(
    session: Session,
    sheet: Sheet,
    kind: ImportKind,
    report: ImportReport,
    lang: str,
    region: str,
) -> list[dict[str, object]]:
    table: type[Volunteer] | type[Merchant] = (
        Volunteer if kind is ImportKind.VOLUNTEERS else Merchant
    )
    existing = {phone: name for name, phone in session.exec(select(table.name, table.phone)).all()}
    first_row_of: dict[str, int] = {}
    fresh: list[dict[str, object]] = []
    for number, cells in sheet.rows:
        row = _Row(number, cells, lang, region)
        data: dict[str, object] = {
            "name": row.text("name", 200, required=True),
            "phone": row.phone("phone", required=True),
            "language": row.language("language"),
        }
        if kind is ImportKind.VOLUNTEERS:
            data["lat"] = row.decimal("lat", -90, 90, required=True)
            data["lon"] = row.decimal("lon", -180, 180, required=True)
            data["skills"] = row.words("skills")
            data["availability"] = row.hours("hours") or {d: ["00:00-24:00"] for d in WEEKDAYS}
        else:
            data["lat"] = row.decimal("lat", -90, 90)
            data["lon"] = row.decimal("lon", -180, 180)
            data["rating"] = row.decimal("rating", 0, 5)
            data["categories"] = row.words("categories", required=True)
            data["hours"] = row.hours("hours")
            if not data["categories"] and not row.problems:
                row.bad("categories", t(lang, "categories is required"))
        phone = data["phone"]
        if isinstance(phone, str) and not row.problems:
            earlier = first_row_of.setdefault(phone, number)
            if earlier != number:
                row.bad("phone", t(lang, "the same phone as row {row}", row=earlier))
            elif phone in existing and existing[phone] != data["name"]:
                row.bad(
                    "phone", t(lang, "this phone already belongs to {name}", name=existing[phone])
                )
            elif phone in existing:
                report.unchanged += 1
            else:
                fresh.append(data)
        report.problems += row.problems
    report.new = len(fresh)
    return fresh


def run_import(
    session: Session,
    sheet: Sheet,
    kind: ImportKind,
    *,
    now: datetime,
    commit: bool,
    lang: str,
    region: str = DEFAULT_REGION,
    by: str = "system",
    service_accounts: Collection[str] = (),
) -> ImportReport:
    """Check every row of `sheet`; with `commit` and no bad row, add what is new.

    The caller commits the session (or rolls it back) when `report.committed` is true.
    """
    sheet = canonical(Sheet(tuple(normalise_column(c) for c in sheet.columns), sheet.rows))
    report = ImportReport(kind=kind, rows=len(sheet.rows))
    report.problems = _header_problems(sheet, kind, lang)
    if report.problems:
        return report
    if not sheet.rows:
        report.problems.append(Problem(2, "", t(lang, "the file has no rows under its header")))
        return report
    if kind is ImportKind.ELDERS:
        plans = _plan_elders(session, sheet, report, lang, region, service_accounts)
        ok = commit and not report.problems
        _write_elders(session, plans, report, now, by, commit=ok)
    else:
        fresh = _plan_people(session, sheet, kind, report, lang, region)
        ok = commit and not report.problems
        if ok:
            _write_people(session, kind, fresh, now)
    report.problems.sort(key=lambda p: (p.row, p.column))
    report.committed = ok
    return report


def _write_people(
    session: Session, kind: ImportKind, fresh: list[dict[str, object]], now: datetime
) -> None:
    make: Callable[[dict[str, object]], Volunteer | Merchant]
    if kind is ImportKind.VOLUNTEERS:
        make = lambda d: Volunteer.model_validate({**d, "created_at": now})  # noqa: E731
    else:
        make = lambda d: Merchant.model_validate(  # noqa: E731
            {**d, "rating": d["rating"] if d["rating"] is not None else 3.0, "created_at": now}
        )
    session.add_all([make(d) for d in fresh])
    session.flush()
