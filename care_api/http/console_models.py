"""API models of the console's own reads: the board, the fleet and the KPI figures."""

from typing import Self

from pydantic import BaseModel

from care_api.domain.kpi import Kpi
from care_api.domain.model import CaseKind, CaseState, ServiceLine
from care_api.http.hotline_models import HotlineCallPublic
from care_api.http.reader_language import in_reader_language, reader_language
from care_api.http.schemas import ContactIdPublic, Timestamp, contact_id_of_row
from care_api.i18n import render
from care_api.store.tables import Case
from care_api.usecases.reports.console import FleetRow, FleetSummary


class BoardCase(BaseModel):
    """One row of the live board."""

    id: str
    kind: CaseKind
    state: CaseState
    elder_id: int
    elder_name: str
    device_id: str | None
    summary: str
    owner: str | None
    level: int
    opened_at: Timestamp
    acknowledged_at: Timestamp | None
    updated_at: Timestamp
    flags: list[str]  # what the ladder wants the console to say, e.g. "call 120"
    line: ServiceLine | None = None  # the service line; None for a terminal problem
    contact_id: ContactIdPublic | None = None
    drill: bool = False
    owner_role: str | None = None  # the owner as people read it: "operator", "contact"…
    owner_name: str | None = None  # … and their name ("contact:9" is never shown)
    next_escalation_at: Timestamp | None = None  # the ladder's next step, while nobody owns it

    @classmethod
    def of(cls, case: Case, elder_name: str, flags: tuple[str, ...] = ()) -> Self:
        """The board's view of a case row."""
        return cls(
            id=case.id,
            kind=case.kind,
            state=case.state,
            elder_id=case.elder_id,
            elder_name=elder_name,
            device_id=case.device_id,
            summary=in_reader_language(case.summary, case.summary_msg),
            owner=case.owner,
            level=case.level,
            opened_at=case.opened_at,
            acknowledged_at=case.acknowledged_at,
            updated_at=case.updated_at,
            flags=[render(reader_language(), f) for f in flags],
            contact_id=contact_id_of_row(case.contact_id),
            drill=case.drill,
            line=ServiceLine(case.line) if case.line is not None else None,
        )


class BoardPublic(BaseModel):
    """The board, with the server's time so ages read right whatever the browser's clock."""

    now: Timestamp
    cases: list[BoardCase]
    # Calls nobody answered, waiting for their 5-minute callback (the hotline's rule).
    missed_calls: list[HotlineCallPublic] = []


class FleetDevice(BaseModel):
    """A terminal as the fleet view shows it; never its secret."""

    device_id: str
    elder_id: int | None
    elder_name: str | None
    status: str
    online: bool | None
    battery: int | None
    rssi: int | None
    fw: str | None
    last_seen_at: Timestamp | None
    model: str | None = None
    heartbeat_s: int = 300
    last_boot: int | None = None
    outage_since: Timestamp | None = None  # last heard, while an outage is open
    battery_low: bool = False
    power_lost: bool = False


class FleetSummaryPublic(BaseModel):
    """Counts over every terminal in service."""

    total: int
    online: int
    offline: int
    unknown: int
    low_battery: int


class FleetPublic(BaseModel):
    """The fleet: a summary of all terminals and the page of them asked for."""

    summary: FleetSummaryPublic
    devices: list[FleetDevice]

    @classmethod
    def build(cls, summary: FleetSummary, rows: list[FleetRow]) -> Self:
        """Assemble the answer from the query results."""
        return cls(
            summary=FleetSummaryPublic(
                total=summary.total,
                online=summary.online,
                offline=summary.offline,
                unknown=summary.unknown,
                low_battery=summary.low_battery,
            ),
            devices=[
                FleetDevice(
                    device_id=r.device.device_id,
                    elder_id=r.device.elder_id,
                    elder_name=r.elder_name,
                    status=r.device.status,
                    online=r.device.online,
                    battery=r.device.battery,
                    rssi=r.device.rssi,
                    fw=r.device.fw,
                    last_seen_at=r.device.last_seen_at,
                    model=r.device.model,
                    heartbeat_s=r.device.heartbeat_s,
                    last_boot=r.device.last_boot,
                    outage_since=r.device.outage_since,
                    battery_low=r.device.battery_low,
                    power_lost=r.device.power_lost,
                )
                for r in rows
            ],
        )


class DayCountPublic(BaseModel):
    """Cases opened on one local day, by kind."""

    day: str
    counts: dict[str, int]


class KpiPublic(BaseModel):
    """The centre's figures over a period; rates are 0–1, or null with nothing to divide."""

    since: Timestamp
    until: Timestamp
    total: int
    by_kind: dict[str, int]
    by_state: dict[str, int]
    per_day: list[DayCountPublic]
    completion_rate: float | None
    callback_rate: float | None
    satisfaction_rate: float | None
    callbacks: int
    ack_count: int
    ack_p50_s: float | None
    ack_p90_s: float | None

    @classmethod
    def of(cls, kpi: Kpi) -> Self:
        """The API's view of computed figures."""
        return cls(
            since=kpi.since,
            until=kpi.until,
            total=kpi.total,
            by_kind=kpi.by_kind,
            by_state=kpi.by_state,
            per_day=[DayCountPublic(day=d.day, counts=d.counts) for d in kpi.per_day],
            completion_rate=kpi.completion_rate,
            callback_rate=kpi.callback_rate,
            satisfaction_rate=kpi.satisfaction_rate,
            callbacks=kpi.callbacks,
            ack_count=kpi.ack_count,
            ack_p50_s=kpi.ack_p50_s,
            ack_p90_s=kpi.ack_p90_s,
        )
