"""`vnh simulate`: a district on a virtual clock, run through the service's own code.

One process, no sleeping: the real Services on a temporary SQLite file with a clock the loop
moves, intake by `record_device_report`, the alerts engine driven by `run_pending`/`tick`,
and simulated people at the edge (a Notifier) who answer through `alerts.answers.Answers`.
The figures come from the same functions as GET /api/v1/reports/kpi.
"""

from __future__ import annotations

import heapq
import math
import random
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, cast

from rich.table import Table
from sqlalchemy import Engine, bindparam, event, func
from sqlmodel import Session, col, select

from alerts.answers import Answers, is_asking_key
from alerts.ports import Channel, DeliveryReceipt, OutboundMessage
from alerts.replies import short_code
from alerts.runtime import AlertsComponent
from care_api.domain.answer_times import (
    DAY,
    NIGHT,
    AnswerFigures,
    AnswerTimes,
    ShiftHours,
    answer_times,
)
from care_api.domain.dispatch import Strategy
from care_api.domain.errors import Conflict, InvalidInput, NotFound
from care_api.domain.kpi import Kpi, compute_kpi
from care_api.domain.kpi_service import ServiceKpi
from care_api.domain.model import DeviceReport, EventKey, ReportType
from care_api.domain.rota import WeeklyHours, is_open
from care_api.domain.texts import N_, Msg
from care_api.i18n import t
from care_api.services import build_services
from care_api.settings import Settings
from care_api.store.tables import Case, Elder, ServiceOrder, Timer
from care_api.usecases.cases.actions import resolve
from care_api.usecases.dispatch.merchants import create_merchant
from care_api.usecases.dispatch.orders import complete_order, place_order
from care_api.usecases.dispatch.volunteers import create_volunteer
from care_api.usecases.intake.reports import record_device_report
from care_api.usecases.onboarding.imports import CONTACT_SLOTS, ImportKind, run_import
from care_api.usecases.onboarding.sheets import Sheet
from care_api.usecases.people.registry import add_contact
from care_api.usecases.reports.console import kpi_inputs
from care_api.usecases.reports.kpi import answer_kpi, emergency_facts, service_kpi
from vnh.simulate_callbacks import (
    CallbackHabits,
    SimulatedCallees,
    habits_of,
    left_to_operators,
    survey_attempt,
)
from vnh.simulate_checkins import (
    CheckinFigures,
    CheckinHabits,
    SimulatedCheckins,
    checkin_rows,
    checkins_of,
)
from vnh.simulate_districts import District, districts_of, hours_of
from vnh.simulate_ladders import LadderSetting, ladders_of, save_ladders
from vnh.simulate_operators import (
    OPERATOR,
    OperatorHabits,
    SimulatedOperators,
    operator_callbacks,
    operators_of,
)

SUPERVISOR_PHONE = "+8613700000000"
START = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # a Monday, 08:00 in Shanghai
# Presses of each kind: the keymap pattern that opens it (PROTOCOL.md's default keymap).
REORDER_TRIES = 12  # an order nobody can take is placed again at most this often
CATEGORY = "meals"
PATTERNS = {"emergency": "long", "false_alarm": "long", "service": "single", "care": "double"}
# Telecare centres see few calls by night; the shape is an assumption (scenarios/district.toml).
DEFAULT_HOURS = [1, 1, 1, 1, 1, 2, 4, 6, 8, 8, 8, 7, 6, 6, 7, 7, 7, 6, 5, 4, 3, 2, 1, 1]
# The next unfired timer's due time, asked before every step of the loop.
NEXT_TIMER = select(func.min(Timer.due_at)).where(
    col(Timer.fired_at).is_(None), col(Timer.cancelled).is_(False)
)
# A simulated person looks before and after answering; the whole row was not needed.
CASE_OWNER = select(Case.owner).where(col(Case.id) == bindparam("case_id"))


def is_order_key(key: str | None) -> bool:
    """True for the idempotency key of an order's SMS to a merchant (not "it moved on")."""
    return key is not None and key.startswith("order:") and key.endswith(":sms")


# -- the scenario ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delay:
    """A lognormal delay given by its median and 90th percentile, in seconds (0: at once)."""

    median_s: float
    p90_s: float

    def draw(self, rng: random.Random) -> float:
        if self.median_s <= 0:
            return 0.0
        sigma = max(math.log(max(self.p90_s, self.median_s) / self.median_s) / 1.2816, 1e-9)
        return rng.lognormvariate(math.log(self.median_s), sigma)


@dataclass(frozen=True)
class People:
    """How one kind of person answers an alert: the share who take it, and how fast."""

    answer: float
    delay: Delay


@dataclass(frozen=True)
class Scenario:
    """A district, its press rates and how its people answer (see scenarios/district.toml)."""

    name: str = "district"
    elders: int = 5000
    box: tuple[float, float, float, float] = (29.05, 119.60, 29.15, 119.72)
    family_share: float = 0.8
    family_count: int = 2
    languages: Mapping[str, float] = field(default_factory=lambda: {"zh-CN": 0.95, "en": 0.05})
    rates: Mapping[str, float] = field(
        default_factory=lambda: {
            "emergency": 0.002,
            "false_alarm": 0.01,
            "service": 0.03,
            "care": 0.01,
        }
    )
    hours: tuple[float, ...] = tuple(DEFAULT_HOURS)
    cancel_after: Delay = Delay(15, 40)
    family: People = People(0.7, Delay(45, 180))
    volunteers: int = 40
    volunteer: People = People(0.5, Delay(60, 240))
    supervisor: People = People(0.95, Delay(30, 90))
    on_site: Delay = Delay(900, 1800)
    visit: Delay = Delay(1200, 3600)
    merchants: int = 15
    merchant: People = People(0.9, Delay(180, 600))
    operator_order: Delay = Delay(120, 300)
    # Merchants' weekly opening hours (None: always open; the service skips a closed one)
    # and how many orders one has in hand at most before a new one goes unanswered (0: any).
    merchant_hours: Mapping[str, Any] | None = None
    merchant_capacity: int = 0
    # An order no merchant could take: the operator places it again this much later (0: not).
    reorder_after_s: float = 0.0
    # Volunteers' weekly hours (weekday -> spans); None: every hour.
    volunteer_hours: Mapping[str, Any] | None = None
    # The ladders an admin would set (`[ladders]`); empty: the service's defaults.
    ladders: tuple[LadderSetting, ...] = ()
    # How callees answer the callbacks by machine (`[callbacks]`).
    callbacks: CallbackHabits = field(default_factory=CallbackHabits)
    # Daily check-in windows and how elders keep them (`[checkins]`); default: none.
    checkins: CheckinHabits = field(default_factory=CheckinHabits)
    # The operators working the callback list (`[operators]`); default: nobody.
    operators: OperatorHabits = field(default_factory=OperatorHabits)
    # `[[district]]`: several districts; empty: one unnamed district of the fields above.
    districts: tuple[District, ...] = ()

    @classmethod
    def load(cls, path: Path) -> Scenario:
        """Read a scenario TOML; a missing key keeps its default, a bad one is InvalidInput.

        `extends = "other.toml"` (beside it) starts from that file: a what-if names only
        what it changes, and follows every later edit of the district it varies.
        """
        return cls.of(read_scenario(path), name=path.stem)

    @classmethod
    def of(cls, data: Mapping[str, Any], name: str = "district") -> Scenario:
        base = cls()
        raw, p = data.get("district", {}), data.get("presses", {})
        d = raw if isinstance(raw, Mapping) else {}
        fam, vol = data.get("families", {}), data.get("volunteers", {})
        sup, visit = data.get("supervisor", {}), data.get("visits", {})
        shop = data.get("merchants", {})
        try:
            rates = {k: float(p.get(f"{k}_per_elder_day", v)) for k, v in base.rates.items()}
            hours = tuple(float(h) for h in p.get("hour_weights", base.hours))
            scenario = cls(
                name=str(data.get("name", name)),
                elders=int(d.get("elders", base.elders)),
                box=tuple(float(x) for x in d.get("box", base.box)),  # type: ignore[arg-type]
                family_share=float(d.get("family_share", base.family_share)),
                family_count=int(d.get("family_count", base.family_count)),
                languages={str(k): float(v) for k, v in d.get("languages", base.languages).items()},
                rates=rates,
                hours=hours,
                cancel_after=_delay(p, "cancel_after", base.cancel_after),
                family=_people(fam, base.family),
                volunteers=int(vol.get("count", base.volunteers)),
                volunteer=_people(vol, base.volunteer),
                supervisor=_people(sup, base.supervisor),
                on_site=_delay(visit, "on_site", base.on_site),
                visit=_delay(visit, "visit", base.visit),
                merchants=int(shop.get("count", base.merchants)),
                merchant=_people(shop, base.merchant),
                operator_order=_delay(shop, "order_after", base.operator_order),
                merchant_hours=hours_of(shop.get("hours")),
                merchant_capacity=int(shop.get("capacity", base.merchant_capacity)),
                reorder_after_s=float(shop.get("reorder_after_s", base.reorder_after_s)),
                volunteer_hours=hours_of(vol.get("hours")),
                ladders=ladders_of(data),
                callbacks=habits_of(data),
                checkins=checkins_of(data),
                operators=operators_of(data),
            )
            if not isinstance(raw, Mapping) or "districts" in data:
                scenario = replace(
                    scenario,
                    districts=districts_of(
                        data,
                        scenario.areas()[0],
                        volunteers=scenario.volunteers,
                        merchants=scenario.merchants,
                    ),
                )
        except (TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(f"scenario {name}: {exc}") from None
        scenario.check()
        return scenario

    def areas(self) -> tuple[District, ...]:
        """The districts to populate: `[[district]]`'s, or the one of the top-level fields."""
        if self.districts:
            return self.districts
        one = District(
            name="",
            elders=self.elders,
            box=self.box,
            family_share=self.family_share,
            family_count=self.family_count,
            languages=self.languages,
            volunteers=self.volunteers,
            merchants=self.merchants,
            volunteer_hours=self.volunteer_hours,
        )
        return (one,)

    def check(self) -> None:
        shares = (
            self.family_share,
            self.family.answer,
            self.volunteer.answer,
            self.merchant.answer,
        )
        if not all(0.0 <= s <= 1.0 for s in (*shares, self.supervisor.answer)):
            raise InvalidInput("shares and answer rates must lie between 0 and 1")
        counts = (
            self.elders,
            self.volunteers,
            self.family_count,
            self.merchants,
            self.merchant_capacity,
            self.reorder_after_s,
        )
        if min(counts) < 0:
            raise InvalidInput("counts must not be negative")
        if len(self.hours) != 24 or sum(self.hours) <= 0 or min(self.hours) < 0:
            raise InvalidInput("hour_weights needs 24 non-negative weights, not all zero")
        if len(self.box) != 4 or any(r < 0 for r in self.rates.values()):
            raise InvalidInput("box is [lat_min, lon_min, lat_max, lon_max]; rates >= 0")
        for district in self.areas():
            district.check()


def _delay(table: Mapping[str, Any], key: str, default: Delay) -> Delay:
    median = float(table.get(f"{key}_median_s", default.median_s))
    return Delay(median, float(table.get(f"{key}_p90_s", max(default.p90_s, median))))


def _people(table: Mapping[str, Any], default: People) -> People:
    return People(float(table.get("answer", default.answer)), _delay(table, "delay", default.delay))


def opens_after(hours: Mapping[str, Any] | None, moment: datetime, tz: tzinfo) -> datetime:
    """The first quarter hour from `moment` when shops with `hours` are open (a week at most)."""
    for quarter in range(7 * 24 * 4 + 1):
        at = moment + timedelta(minutes=15 * quarter)
        if is_open(cast(WeeklyHours | None, hours), at.astimezone(tz)):
            return at
    return moment  # never open: the service will say so again


def throwaway(engine: Engine) -> None:
    """No fsync for a database deleted after the run: a crash loses nothing worth keeping."""

    @event.listens_for(engine, "connect")
    def _no_sync(dbapi_conn: Any, _record: object) -> None:  # noqa: ANN401
        # After make_engine's own pragmas (listeners run in order): WAL stays, the syncs go.
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA synchronous=OFF")
        cur.close()


# -- the clock and the people ------------------------------------------------------------------


class VirtualClock:
    """The simulation's time: it moves only when the loop sets it."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = max(self._now, moment)


@dataclass
class Sent:
    """What the simulated people were sent, per channel."""

    by_channel: dict[str, int] = field(default_factory=dict)
    surveys: int = 0  # of the SMS: the callbacks' surveys


class Loop:
    """A heap of (virtual time, action); each action runs at its time, then due timers."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self._heap: list[tuple[datetime, int, Callable[[], None]]] = []
        self._seq = 0

    def at(self, moment: datetime, action: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (moment, self._seq, action))

    def after(self, seconds: float, action: Callable[[], None]) -> None:
        self.at(self.clock.now() + timedelta(seconds=seconds), action)

    def pop(self) -> tuple[datetime, Callable[[], None]] | None:
        if not self._heap:
            return None
        moment, _, action = heapq.heappop(self._heap)
        return moment, action

    def peek(self) -> datetime | None:
        return self._heap[0][0] if self._heap else None


class SimulatedPeople:
    """The Notifier at the edge: records each SMS and call and schedules the person's answer."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.sent = Sent()
        self._asked: set[tuple[str, str]] = set()

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        channel = message.channel.value
        self.sent.by_channel[channel] = self.sent.by_channel.get(channel, 0) + 1
        case_id = message.case_id
        person = self.sim.people.get(message.to)
        # The row's idempotency key says what the message is (the sender hands it over).
        key = message.key if case_id is not None else None
        if case_id is not None and person in (None, "family") and channel == "sms":
            # The callback's survey goes to the elder, or for an emergency to the family.
            attempt = survey_attempt(key)
            if attempt is not None:
                self.sent.surveys += 1
                self.sim.callees.asked(message.to, case_id, attempt)
                return DeliveryReceipt("queued", f"sim-{message.notification_id}")
        if case_id is not None and channel == "voice" and person is None:
            # The call to an elder who missed a check-in: they may press back.
            self.sim.checkins.called(message.to, case_id)
            return DeliveryReceipt("queued", f"sim-{message.notification_id}")
        if person == "merchant":
            # A merchant decides on each order given to them (its SMS), not once per case:
            # a case whose first order found nobody gets a second one.
            if case_id is not None and is_order_key(key):
                self.sim._merchant(message.to, case_id)
            return DeliveryReceipt("queued", f"sim-{message.notification_id}")
        fresh = case_id is not None and (message.to, case_id) not in self._asked
        # Each person decides once per case, on the first message that asks them.
        if fresh and person is not None and is_asking_key(key):
            assert case_id is not None  # noqa: S101 - for mypy: `fresh` says so
            self._asked.add((message.to, case_id))
            self.sim.decide(person, message.to, case_id)
        return DeliveryReceipt("queued", f"sim-{message.notification_id}")


# -- the run -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """The centre's figures of a run, as GET /api/v1/reports/kpi computes them, and the costs."""

    scenario: str
    days: int
    kpi: Kpi
    answers: AnswerTimes
    service: ServiceKpi
    sent: Mapping[str, int]
    presses: Mapping[str, int]
    taken_by: Mapping[str, int]
    # The answer times of each named district, by the KPI's own function (none: one district).
    by_district: Mapping[str, AnswerTimes] = field(default_factory=dict)
    callbacks_to_operators: int = 0
    surveys: int = 0  # survey SMS of the callbacks by machine, counted in sent["sms"] too
    # Each answered emergency's time to a person's answer (s), and those nobody answered.
    answer_s: tuple[float, ...] = ()
    unanswered: int = 0
    checkins: CheckinFigures | None = None  # None: no check-in windows in the scenario
    operator_callbacks: int = 0  # calls the operators made from the callback list


class Simulation:
    """One scenario on a fresh database, for `days` from START."""

    def __init__(self, scenario: Scenario, *, seed: int, days: int, workdir: Path) -> None:
        self.scenario = scenario
        self.days = days
        # A stream each for the elders', the volunteers' and the merchants' places, one for
        # presses, one per person and case for answers: a what-if that changes one thing (20
        # more volunteers) meets the same elders pressing at the same moments, the same shops
        # in the same streets, and the same family answering the same way.
        self._seed = seed
        self._places = random.Random(f"{seed}:places")
        self._volunteer_places = random.Random(f"{seed}:volunteer-places")
        self._merchant_places = random.Random(f"{seed}:merchant-places")
        self._presses = random.Random(f"{seed}:presses")
        self.clock = VirtualClock(START)
        self.loop = Loop(self.clock)
        self.end = START + timedelta(days=days)
        self.people: dict[str, str] = {SUPERVISOR_PHONE: "supervisor"}
        self.presses: dict[str, int] = dict.fromkeys(scenario.rates, 0)
        self.taken_by: dict[str, int] = {}
        settings = Settings(  # type: ignore[call-arg]
            database_url=f"sqlite:///{workdir / 'simulate.db'}",
            supervisor_phone=SUPERVISOR_PHONE,
            # Callbacks by machine, by SMS as without Twilio; the callees are simulated.
            auto_callbacks=scenario.callbacks.enabled,
            auto_callback_channel="sms",
            auto_callback_delay_s=scenario.callbacks.after_resolve_s,
            auto_callback_retry_s=scenario.callbacks.retry_s,
            _env_file=None,
        )
        # One thread and a virtual clock: no request waits on a commit, so the commits
        # checkpoint the WAL themselves rather than a thread beside the run (whose commit
        # listener cost every statement its engine events).
        self.services = build_services(settings, clock=self.clock, checkpoint_apart=False)
        throwaway(self.services.engine)
        self.crowd = SimulatedPeople(self)
        self.alerts = AlertsComponent(
            settings,
            self.services,
            notifiers={Channel.sms: self.crowd, Channel.voice: self.crowd},
        )
        self.alerts.attach()
        self.answers = Answers(self.services)
        habits = scenario.callbacks
        self.callees = SimulatedCallees(
            self.services,
            self.alerts.machine,
            self.loop,
            habits,
            Delay(habits.delay_median_s, habits.delay_p90_s),
            seed,
        )
        self._seq: dict[str, int] = {}
        c = scenario.checkins
        self.checkins = SimulatedCheckins(
            self.services,
            self.loop,
            c,
            self._checkin_press,
            (
                Delay(c.call_back_median_s, c.call_back_p90_s),
                Delay(c.confirm_median_s, c.confirm_p90_s),
            ),
            seed,
        )
        # Merchants: how often each was given an order of a case (a case can get a second
        # order when the first found nobody), and the orders each has in hand.
        self._orders_seen: dict[tuple[str, str], int] = {}
        self.operators = SimulatedOperators(self.services, self.loop, scenario.operators, seed)
        self._in_hand: dict[str, int] = {}

    # The districts: elders with terminals and family, volunteers and merchants in each box.
    def populate(self) -> list[str]:
        """Create the districts; the elders through the register import's bulk path."""
        s, rng, now = self.scenario, self._places, self.clock.now()
        devices: list[str] = []
        rows: list[tuple[int, dict[str, str]]] = []
        extra: list[tuple[int, dict[str, object]]] = []  # contacts past the sheet's slots
        i = v = m = 0  # phone numbers run on across districts
        with self.services.uow() as uow:
            for area in s.areas():
                lat0, lon0, lat1, lon1 = area.box
                langs, weights = list(area.languages), list(area.languages.values())
                for _ in range(area.elders):
                    # Drawn in the order the per-row set-up drew them: one seed, one district.
                    cells = {
                        "name": f"Elder {i + 1}",
                        "phone": f"+86138{i:08d}",
                        "address": f"{i + 1} Sim Lane",
                        "lat": repr(rng.uniform(lat0, lat1)),
                        "lon": repr(rng.uniform(lon0, lon1)),
                        "language": rng.choices(langs, weights)[0] if langs else "",
                        "district": area.name,
                    }
                    if rng.random() < area.family_share:
                        for k in range(area.family_count):
                            phone = f"+86139{i:06d}{k:02d}"
                            self.people[phone] = "family"
                            name = f"Family {i + 1}.{k + 1}"
                            if k < CONTACT_SLOTS:
                                cells |= {
                                    f"contact{k + 1}_name": name,
                                    f"contact{k + 1}_phone": phone,
                                }
                            else:
                                extra.append((i, {"name": name, "phone": phone, "priority": k + 1}))
                    device = f"S{i + 1:06d}"
                    cells["terminal"] = device
                    rows.append((len(rows) + 2, cells))  # row 1 is the header
                    devices.append(device)
                    i += 1
                for _ in range(area.volunteers):
                    phone = f"+86131{v:08d}"
                    self.people[phone] = "volunteer"
                    person: dict[str, object] = {
                        "name": f"Volunteer {v + 1}",
                        "phone": phone,
                        "lat": self._volunteer_places.uniform(lat0, lat1),
                        "lon": self._volunteer_places.uniform(lon0, lon1),
                    }
                    if area.volunteer_hours is not None:
                        person["availability"] = area.volunteer_hours
                    create_volunteer(uow.session, person, now)
                    v += 1
                for _ in range(area.merchants):
                    phone = f"+86151{m:08d}"
                    self.people[phone] = "merchant"
                    shop: dict[str, object] = {
                        "name": f"Merchant {m + 1}",
                        "phone": phone,
                        "lat": self._merchant_places.uniform(lat0, lat1),
                        "lon": self._merchant_places.uniform(lon0, lon1),
                        "categories": [CATEGORY],
                    }
                    if s.merchant_hours is not None:
                        shop["hours"] = s.merchant_hours
                    create_merchant(uow.session, shop, now)
                    m += 1
            self._import_elders(uow.session, rows, extra, now)
            phones = {cells["phone"]: cells["terminal"] for _, cells in rows}
            self.checkins.setup(uow.session, phones, now)
            # Through the admin's own use case, as PUT /api/v1/ladders would.
            save_ladders(uow.session, s.ladders, now)
            uow.commit()
        return devices

    @staticmethod
    def _import_elders(
        session: Session,
        rows: list[tuple[int, dict[str, str]]],
        extra: list[tuple[int, dict[str, object]]],
        now: datetime,
    ) -> None:
        """The elders as one register sheet (`vnh import`'s path), then family past its slots."""
        if rows:
            columns = tuple(dict.fromkeys(c for _, cells in rows for c in cells))
            report = run_import(
                session,
                Sheet(columns, tuple(rows)),
                ImportKind.ELDERS,
                now=now,
                commit=True,
                lang="en",
                by="simulate",
            )
            if not report.committed:
                raise InvalidInput(f"the simulated district was refused: {report.problems[:3]}")
        if extra:
            ids = dict(session.exec(select(Elder.phone, Elder.id)).all())
            for i, contact in extra:
                add_contact(session, cast(int, ids[f"+86138{i:08d}"]), contact)

    def schedule_presses(self, devices: list[str]) -> None:
        """Poisson presses per kind, hour by hour, at the scenario's rates and hour weights."""
        s, rng = self.scenario, self._presses
        total = sum(s.hours)
        if not devices:
            return
        for kind, per_day in s.rates.items():
            for hour in range(self.days * 24):
                local_hour = (hour + 8) % 24  # START is midnight UTC, 08:00 in Shanghai
                rate = len(devices) * per_day * s.hours[local_hour] / total / 3600.0
                if rate <= 0:
                    continue
                t = hour * 3600.0 + rng.expovariate(rate)
                while t < (hour + 1) * 3600.0:
                    device = rng.choice(devices)
                    self.loop.at(START + timedelta(seconds=t), self._press(kind, device))
                    t += rng.expovariate(rate)

    def _report(self, device: str, kind: ReportType, **fields: object) -> tuple[int, str | None]:
        seq = self._seq.get(device, 0) + 1
        self._seq[device] = seq
        report = DeviceReport(EventKey(device, 1, seq), kind, dict(fields))
        outcome = record_device_report(
            self.services.uow, report, now=self.clock.now(), tz=self.services.tz
        )
        return seq, outcome.case_id

    def _checkin_press(self, device: str) -> str | None:
        # "I'm OK": the single press of the main button (care_api/domain/checkins.py).
        return self._report(device, ReportType.PRESS, button="main", pattern="single")[1]

    def _press(self, kind: str, device: str) -> Callable[[], None]:
        def press() -> None:
            self.presses[kind] += 1
            seq, case_id = self._report(
                device, ReportType.PRESS, button="main", pattern=PATTERNS[kind]
            )
            if kind == "service" and case_id is not None:
                # The operator on the console turns the request into an order.
                self.loop.after(
                    self.scenario.operator_order.draw(self._presses), lambda: self._order(case_id)
                )
            if kind == "false_alarm":

                def cancel() -> None:
                    self._report(device, ReportType.CANCEL, ref_seq=seq)

                self.loop.after(self.scenario.cancel_after.draw(self._presses), cancel)

        return press

    def _order(self, case_id: str, tries: int = 0) -> None:
        with self.services.uow() as uow:
            try:
                _, turn = place_order(
                    uow,
                    case_id,
                    category=CATEGORY,
                    note="simulated order",
                    strategy=Strategy.NEAREST,
                    by=OPERATOR,
                    now=self.clock.now(),
                    tz=self.services.tz,
                )
            except (Conflict, NotFound):
                return  # cancelled or ordered meanwhile: nothing to order
            uow.commit()
        again = self.scenario.reorder_after_s
        if turn is None and again > 0 and tries < REORDER_TRIES:
            # No merchant open or free: the operator tries again later, as the flag asks,
            # and not before the shops open (a night's order waits for the morning).
            later = self.clock.now() + timedelta(seconds=again)
            at = opens_after(self.scenario.merchant_hours, later, self.services.tz)
            self.loop.at(at, lambda: self._order(case_id, tries + 1))

    def _merchant(self, phone: str, case_id: str) -> None:
        """A merchant who got an order decides whether and when to call the elder."""
        s = self.scenario
        seen = self._orders_seen.get((phone, case_id), 0)
        self._orders_seen[(phone, case_id)] = seen + 1
        # The first order of a case keeps the stream it always had; a later one its own.
        rng = self._person(phone, case_id if seen == 0 else f"{case_id}:{seen}")
        if rng.random() >= s.merchant.answer:
            return
        busy = s.merchant_capacity and self._in_hand.get(phone, 0) >= s.merchant_capacity
        if busy:
            return  # orders enough in hand: this one waits out its 10 minutes and moves on

        def contact() -> None:
            self.answers.sms(phone, f"1 {short_code(case_id)}")
            self.taken_by["merchant"] = self.taken_by.get("merchant", 0) + 1
            self._in_hand[phone] = self._in_hand.get(phone, 0) + 1
            self.loop.after(s.visit.draw(rng), lambda: self._deliver(phone, case_id))

        self.loop.after(s.merchant.delay.draw(rng), contact)

    def _deliver(self, phone: str, case_id: str) -> None:
        self._in_hand[phone] -= 1
        with self.services.uow() as uow:
            order = uow.session.exec(
                select(ServiceOrder).where(
                    ServiceOrder.case_id == case_id, ServiceOrder.status == "contacted"
                )
            ).first()
            if order is None or order.id is None:
                return
            complete_order(uow, order.id, None, by=OPERATOR, now=self.clock.now())
            uow.commit()

    def decide(self, role: str, phone: str, case_id: str) -> None:
        """Whether and when this person answers: per the scenario's share and delay."""
        s = self.scenario
        people = {"family": s.family, "volunteer": s.volunteer, "supervisor": s.supervisor}[role]
        rng = self._person(phone, case_id)
        if rng.random() >= people.answer:
            return
        code = short_code(case_id)

        def take() -> None:
            found, owner = self._owner(case_id)
            if not found or owner is not None:
                return
            self.answers.sms(phone, f"1 {code}")
            found, mine = self._owner(case_id)
            if not found or mine is None:
                return
            if self.people.get(phone) and mine:
                self.taken_by[role] = self.taken_by.get(role, 0) + 1
                self.loop.after(s.on_site.draw(rng), lambda: self._arrive(phone, case_id, rng))

        self.loop.after(people.delay.draw(rng), take)

    def _owner(self, case_id: str) -> tuple[bool, str | None]:
        """Whether the case exists, and its owner: one column on a bare connection."""
        with self.services.engine.connect() as conn:
            row = conn.execute(CASE_OWNER, {"case_id": case_id}).first()
        return (False, None) if row is None else (True, row[0])

    def _person(self, phone: str, case_id: str) -> random.Random:
        return random.Random(f"{self._seed}:{phone}:{case_id}")

    def _arrive(self, phone: str, case_id: str, rng: random.Random) -> None:
        self.answers.sms(phone, f"3 {short_code(case_id)}")
        self.loop.after(self.scenario.visit.draw(rng), lambda: self._resolve(case_id))

    def _resolve(self, case_id: str) -> None:
        with self.services.uow() as uow:
            case = uow.session.get(Case, case_id)
            if case is None or case.owner is None or case.resolved_at is not None:
                return
            resolve(uow, case_id, by=case.owner, why="helped", now=self.clock.now())
            uow.commit()

    def _next_timer(self) -> datetime | None:
        # A read on a bare connection with a statement built once: the loop asks before
        # every step, and a session per question cost more than the question. (Caching it
        # behind a listener for timer writes cost more: any engine listener slows every
        # statement.)
        with self.services.engine.connect() as conn:
            due = conn.execute(NEXT_TIMER).scalar()
        if due is not None and due.tzinfo is None:
            due = due.replace(tzinfo=UTC)
        return due

    def run(self) -> Figures:
        self.schedule_presses(self.populate())
        self.checkins.schedule(START, self.days)
        self.operators.schedule(START, self.days)
        while True:
            action_at, timer_at = self.loop.peek(), self._next_timer()
            if timer_at is not None and (action_at is None or timer_at <= action_at):
                if timer_at >= self.end:
                    break
                self.clock.set(timer_at)
                self.alerts.tick()
                self.alerts.run_pending()
                continue
            popped = self.loop.pop()
            if popped is None or popped[0] >= self.end:
                break
            self.clock.set(popped[0])
            popped[1]()
            self.alerts.run_pending()
        self.clock.set(self.end)
        return self.figures()

    def figures(self) -> Figures:
        """The same calls as GET /api/v1/reports/kpi over the simulated days."""
        svc, now = self.services, self.clock.now()
        hours = ShiftHours(svc.settings.day_shift_start_hour, svc.settings.night_shift_start_hour)
        with svc.uow() as uow:
            facts, callbacks = kpi_inputs(uow.session, START, self.end, drill=False)
            kpi = compute_kpi(facts, callbacks, since=START, until=self.end, tz=svc.tz)
            answers = answer_kpi(uow.session, START, self.end, now=now, tz=svc.tz, hours=hours)
            service = service_kpi(uow.session, facts, START, self.end, now)
            emergencies = emergency_facts(uow.session, START, self.end)
            checkins = self.checkins.figures(uow.session, self.days)
        # Each district's emergencies through the same answer_times as the report's.
        by_district = {
            d.name: answer_times(
                [e for e in emergencies if e.district == d.name], now=now, tz=svc.tz, hours=hours
            )
            for d in self.scenario.districts
        }
        return Figures(
            self.scenario.name,
            self.days,
            kpi,
            answers,
            service,
            dict(self.crowd.sent.by_channel),
            dict(self.presses),
            dict(self.taken_by),
            by_district,
            left_to_operators(svc),
            self.crowd.sent.surveys,
            tuple(e.answer_s for e in emergencies if e.answer_s is not None),
            sum(1 for e in emergencies if e.acknowledged_at is None and e.cancelled_at is None),
            checkins,
            operator_callbacks(svc),
        )

    def close(self) -> None:
        self.alerts.detach()
        self.services.close()


def simulate(scenario: Scenario, *, seed: int = 1, days: int = 7) -> Figures:
    """Run `scenario` for `days` on a temporary database; the figures of the period."""
    with tempfile.TemporaryDirectory(prefix="vnh-simulate-") as tmp:
        sim = Simulation(scenario, seed=seed, days=days, workdir=Path(tmp))
        try:
            return sim.run()
        finally:
            sim.close()


# -- the table ---------------------------------------------------------------------------------

# A line under the one before it (a share of it, or the same figure by shift).
SUB_ROW = "  "
SHIFT_WORDS = {DAY: N_("day"), NIGHT: N_("night")}


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def rows_of(f: Figures, language: str) -> list[tuple[str, str]]:
    """The lines of the report, label (in `language`) and value."""
    overall = f.answers.overall
    emergencies = f.kpi.by_kind.get("emergency", 0)
    ack = f.service.ack_by_kind["emergency"]
    sub = SUB_ROW

    def say(label: str, **fields: object) -> str:
        return t(language, label, **fields)

    return [
        (say("days simulated"), str(f.days)),
        (
            say("presses (emergency/false alarm/service/care)"),
            "/".join(map(str, f.presses.values())),
        ),
        (say("cases"), str(f.kpi.total)),
        (say("emergencies (incl. cancelled)"), str(emergencies)),
        (say("answered by a person within 60 s"), _pct(overall.within.get(60))),
        (say("answered by a person within 180 s"), _pct(overall.within.get(180))),
        *(
            (
                sub + say("{shift} shift: within 60 s / 180 s", shift=Msg(SHIFT_WORDS[shift])),
                _shares(f.answers.by_shift.get(shift)),
            )
            for shift in (DAY, NIGHT)
        ),
        (say("answer time p50 / p90 (s)"), f"{_num(ack.p50_s)} / {_num(ack.p90_s)}"),
        (say("on site p50 (s)"), _num(overall.on_site_p50_s)),
        (say("taken by family/volunteer/supervisor"), _taken(f.taken_by)),
        (say("merchant orders / contacted in 10 min"), _turns(f.service)),
        (say("merchant contact within 10 min"), _pct(f.service.merchant_contact_rate)),
        (say("completion"), _pct(f.kpi.completion_rate)),
        (say("callbacks"), str(f.kpi.callbacks)),
        (sub + say("resolved cases closed after a callback"), _pct(f.kpi.callback_rate)),
        (sub + say("satisfied (4 or 5 of 5)"), _pct(f.kpi.satisfaction_rate)),
        (sub + say("left to the operators' callback list"), str(f.callbacks_to_operators)),
        (sub + say("called back by the operators (calls)"), str(f.operator_callbacks)),
        (
            say("SMS sent (of them callback surveys)"),
            f"{f.sent.get('sms', 0)} ({f.surveys})",
        ),
        (say("calls placed"), str(f.sent.get("voice", 0))),
        *checkin_rows(f.checkins, language),
        *_district_rows(f, language),
    ]


def _district_rows(f: Figures, language: str) -> list[tuple[str, str]]:
    rows = []
    for name, times in f.by_district.items():

        def say(label: str, **fields: object) -> str:
            return t(language, label, district=name, **fields)  # noqa: B023 (used at once)

        rows.append((say("{district}: emergencies / answered"), _answered(times.overall)))
        rows.append((SUB_ROW + say("{district}: within 60 s / 180 s"), _shares(times.overall)))
        for shift in (DAY, NIGHT):
            label = say("{district}, {shift} shift", shift=Msg(SHIFT_WORDS[shift]))
            rows.append((SUB_ROW + label, _shares(times.by_shift.get(shift))))
        rows.append(
            (SUB_ROW + say("{district}: on site p50 (s)"), _num(times.overall.on_site_p50_s))
        )
    return rows


def _answered(group: AnswerFigures) -> str:
    return f"{group.emergencies} / {group.answered}"


def _merged(runs: list[Figures], language: str) -> list[tuple[str, list[str]]]:
    """Every run's lines under one list of labels; a line a run lacks (a district) is "-"."""
    labels: dict[str, None] = {}
    values = []
    for f in runs:
        rows = dict(rows_of(f, language))
        labels.update(dict.fromkeys(rows))
        values.append(rows)
    return [(label, [v.get(label, "-") for v in values]) for label in labels]


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _shares(group: AnswerFigures | None) -> str:
    if group is None:
        return "-"
    return f"{_pct(group.within.get(60))} / {_pct(group.within.get(180))}"


def _turns(service: ServiceKpi) -> str:
    return f"{service.merchant_turns} / {service.merchant_contacts_in_time}"


def _taken(taken: Mapping[str, int]) -> str:
    return "/".join(str(taken.get(k, 0)) for k in ("family", "volunteer", "supervisor"))


def table(runs: list[Figures], language: str) -> str:
    """A plain text table, one column per run, its labels in `language`."""
    header = ["", *(f.scenario for f in runs)]
    body = [[label, *values] for label, values in _merged(runs, language)]
    widths = [max(len(r[c]) for r in [header, *body]) for c in range(len(header))]
    out = []
    for n, row in enumerate([header, *body]):
        cells = [
            row[0].ljust(widths[0]),
            *(v.rjust(w) for v, w in zip(row[1:], widths[1:], strict=True)),
        ]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("-" * len(out[0]))
    return "\n".join(out)


def rich_table(runs: list[Figures], language: str) -> Table:
    """The same lines as `table`, as a rich table for the terminal."""
    out = Table(title=t(language, "vnh simulate: {days} days", days=runs[0].days))
    out.add_column(t(language, "figure"))
    for f in runs:
        out.add_column(f.scenario, justify="right")
    for label, values in _merged(runs, language):
        out.add_row(label, *values)
    return out


def read_scenario(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A scenario file's tables, on top of those of the file it `extends` (if any)."""
    where = path.resolve()
    if where in seen:
        chain = " → ".join(p.name for p in (*seen, where))
        raise InvalidInput(f"{path}: extends itself ({chain})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"{path}: {exc}") from None
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise InvalidInput(f"{path}: extends names one scenario file")
    below = read_scenario(where.parent / base, (*seen, where))
    below.pop("name", None)  # a name is the file's own: the what-if is not the district
    return overlay(below, data)


def overlay(base: Mapping[str, Any], change: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `change` laid over it: tables merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in change.items():
        below = merged.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            merged[key] = overlay(below, value)
        else:
            merged[key] = value
    return merged
