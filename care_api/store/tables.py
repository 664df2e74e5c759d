"""The tables of the service; the API and the domain never see these classes directly."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from care_api.domain.model import CaseKind, CaseState, TimerPurpose
from care_api.store.types import TextEnum, UtcDateTime


def _ts(*, nullable: bool = False, index: bool = False) -> Any:  # noqa: ANN401
    return Field(sa_column=Column(UtcDateTime(), nullable=nullable, index=index))


class Elder(SQLModel, table=True):
    """An elder living at home with a terminal."""

    __tablename__ = "elder"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    phone: str = Field(max_length=32)
    address: str = Field(default="", max_length=500)
    lat: float | None = None
    lon: float | None = None
    medical_notes: str = Field(default="", max_length=4000)
    keymap_override: dict[str, str] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = _ts()
    # The centre's area the elder lives in (migration 0008): answer-time figures per district.
    district: str = Field(default="", max_length=64)
    # BCP 47 tag (zh-CN or en) of the texts this person reads and hears; None: the centre's.
    language: str | None = Field(default=None, max_length=16)
    # How a responder gets in: the key safe and its code, a neighbour with a key (0015).
    # Shown like the medical notes, and to a volunteer only while the case is theirs.
    access_notes: str = Field(default="", max_length=1000)
    # 4G watches (0028): a care case when the elder leaves their safe zone (dementia), and
    # when their watch stays off the wrist past VNH_WATCH_TAKEN_OFF_CASE_S.
    wanders: bool = False
    taken_off_case: bool = False


class Contact(SQLModel, table=True):
    """A caregiver or family member who is alerted, in priority order (1 first)."""

    __tablename__ = "contact"
    id: int | None = Field(default=None, primary_key=True)
    elder_id: int = Field(foreign_key="elder.id", index=True)
    name: str = Field(max_length=200)
    # Indexed (0030): an SMS reply is matched to its sender by the exact number.
    phone: str = Field(max_length=32, index=True)
    relation: str = Field(default="", max_length=64)
    priority: int = 1
    # Told after the event (a summary when the case closes), never paged by a ladder (0007).
    notify_only: bool = False
    drill_opt_in: bool = False  # takes part in drills: gets their TEST messages (0007)
    # BCP 47 tag (zh-CN or en) of the texts this person reads and hears; None: the centre's.
    language: str | None = Field(default=None, max_length=16)


class Device(SQLModel, table=True):
    """A one-button terminal, bound to one elder at a time."""

    __tablename__ = "device"
    # The fleet watch looks for silent terminals per interval, oldest sign of life first.
    __table_args__ = (Index("ix_device_watch", "heartbeat_s", "last_seen_at"),)
    device_id: str = Field(primary_key=True, max_length=64)
    elder_id: int | None = Field(default=None, foreign_key="elder.id", index=True)
    secret_hash: str = Field(max_length=200)
    # The same secret for Mosquitto's password_file ($7$ PBKDF2); null until provisioned or
    # rotated since migration 0005 (`vnh broker-config` writes it out).
    broker_hash: str | None = Field(default=None, max_length=200)
    status: str = Field(default="active", max_length=16)  # active | retired
    hub_port: str | None = Field(default=None, max_length=200)  # serial hub it sits behind
    last_seen_at: datetime | None = _ts(nullable=True)
    battery: int | None = None
    rssi: int | None = None
    fw: str | None = Field(default=None, max_length=64)
    online: bool | None = None
    last_boot: int | None = None
    created_at: datetime = _ts()
    # -- fleet watch (migration 0004) --
    model: str | None = Field(default=None, max_length=64)
    heartbeat_s: int = 300  # the interval it is expected to check in at; silent after 3
    offline_at: datetime | None = _ts(nullable=True)  # when the broker last said `offline`
    outage_since: datetime | None = _ts(nullable=True)  # last heard, while an outage is open
    battery_low: bool = False  # below 20 %: set once per crossing, reset above 20 %
    power_lost: bool = False
    # The last position it reported (watches): its own time, GPS fix or not, how found.
    position_at: datetime | None = _ts(nullable=True)
    position_lat: float | None = None
    position_lon: float | None = None
    position_fix: bool | None = None
    position_source: str | None = Field(default=None, max_length=8)  # gps | wifi | cell | none
    # The number of the terminal's SIM (E.164): a call from it is the elder's (0020).
    sim_phone: str | None = Field(default=None, max_length=32, index=True)


class DeviceEvent(SQLModel, table=True):
    """Every event a terminal sent that intake accepted; the triple is the idempotency key."""

    __tablename__ = "device_event"
    __table_args__ = (UniqueConstraint("device_id", "boot", "seq", name="uq_device_event_key"),)
    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(foreign_key="device.device_id", max_length=64)
    boot: int
    seq: int
    type: str = Field(max_length=16)
    fields: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    source: str = Field(default="mqtt", max_length=200)
    case_id: str | None = Field(default=None, max_length=32, index=True)
    received_at: datetime = _ts()


class Case(SQLModel, table=True):
    """A case bound to an elder and, where one opened it, to the device and event."""

    __tablename__ = "care_case"
    __table_args__ = (Index("ix_care_case_elder_kind_state", "elder_id", "kind", "state"),)
    id: str = Field(primary_key=True, max_length=32)  # C-20261122-0001
    kind: CaseKind = Field(sa_type=TextEnum(CaseKind, 16), index=True)
    state: CaseState = Field(sa_type=TextEnum(CaseState, 16), index=True)
    elder_id: int = Field(foreign_key="elder.id")
    device_id: str | None = Field(default=None, max_length=64)
    device_event_id: int | None = None
    summary: str = Field(default="", max_length=500)
    owner: str | None = Field(default=None, max_length=100)
    level: int = 0  # escalation step reached
    opened_at: datetime = _ts(index=True)
    acknowledged_at: datetime | None = _ts(nullable=True)
    resolved_at: datetime | None = _ts(nullable=True)
    closed_at: datetime | None = _ts(nullable=True)
    updated_at: datetime = _ts()
    # The Contact ID equivalent of what opened it, "QEEE" ("1101"); None for requests (0007).
    contact_id: str | None = Field(default=None, max_length=4)
    drill: bool = False  # opened by a terminal in test mode: reported apart from real cases
    # The service line (domain.model.ServiceLine): life_care, medical, emergency, legal,
    # care_home; None for a terminal problem or a consultation not classified yet (0013).
    line: str | None = Field(default=None, max_length=16, index=True)
    # `summary` as a catalogue key and its fields (domain.texts.Msg), rendered in the reader's
    # language by the API; None for rows before 0024 and for a title typed by hand.
    summary_msg: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class CaseEvent(SQLModel, table=True):
    """One line of a case's history (who, when, why); never rewritten."""

    __tablename__ = "case_event"
    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="care_case.id", index=True, max_length=32)
    at: datetime = _ts()
    by: str = Field(max_length=100)
    action: str = Field(max_length=32)  # opened | transition | note | pressed_again | notified …
    from_state: CaseState | None = Field(default=None, sa_type=TextEnum(CaseState, 16))
    to_state: CaseState | None = Field(default=None, sa_type=TextEnum(CaseState, 16))
    why: str = Field(default="", max_length=1000)
    # `why` as a catalogue key and its fields (rendered per reader); None: `why` as written.
    why_msg: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class CaseCounter(SQLModel, table=True):
    """The last case number handed out per day."""

    __tablename__ = "case_counter"
    day: str = Field(primary_key=True, max_length=8)
    last: int = 0


class Timer(SQLModel, table=True):
    """A deadline that must fire once, whichever process is up when it falls due."""

    __tablename__ = "timer"
    __table_args__ = (
        Index("ix_timer_pending_due", "fired_at", "due_at"),
        # The due check and the next due time skip cancelled timers, which stay unfired
        # for good: without `cancelled` in the key they read all of them (0032).
        Index("ix_timer_live_due", "fired_at", "cancelled", "due_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    case_id: str | None = Field(default=None, max_length=32, index=True)
    purpose: TimerPurpose = Field(sa_type=TextEnum(TimerPurpose, 32))
    step: int = 0
    due_at: datetime = _ts()
    fired_at: datetime | None = _ts(nullable=True)
    cancelled: bool = False
    created_at: datetime = _ts()


class Notification(SQLModel, table=True):
    """Every message sent or queued, whatever the channel: the outbox."""

    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_provider_id", "provider_id"),
        Index("ix_notification_idempotency_key", "idempotency_key", unique=True),
        # Counting the messages the send bounds stopped, by bound (/metrics), reads only
        # the rows of those statuses, not the whole outbox.
        Index("ix_notification_status_bounded_by", "status", "bounded_by"),
        # The sender's sweep of unsent rows due for a try (0030): without it every sweep
        # read all the console rows, which never get a provider id, and sorted them.
        Index("ix_notification_unsent_due", "provider_id", "next_attempt_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    case_id: str | None = Field(default=None, max_length=32, index=True)
    channel: str = Field(max_length=16)  # a care_api.domain.channels.Channel
    to: str = Field(max_length=64)
    # contact:3, volunteer:2, …; indexed (0030): an answer looks up what its actors were sent.
    recipient: str = Field(default="", max_length=100, index=True)
    body: str = Field(max_length=1600)
    status: str = Field(default="pending", max_length=16)  # pending | queued | sent | failed …
    provider_id: str | None = Field(default=None, max_length=64)
    detail: str | None = Field(default=None, max_length=500)
    attempts: int = 0
    created_at: datetime = _ts(index=True)
    updated_at: datetime = _ts()
    say: str | None = Field(default=None, max_length=1600)  # spoken text of a voice call
    # When the sender may (re)try: a failed row's backoff, or the lease of a row being sent.
    next_attempt_at: datetime | None = _ts(nullable=True, index=True)
    # One row per logical message (e.g. ladder:C-…:0:contact:3:sms), so a replay adds none.
    idempotency_key: str | None = Field(default=None, max_length=200)
    # SMS segments the text costs (GSM-7 160/153, UCS-2 70/67); None for other channels.
    segments: int | None = None
    language: str | None = Field(default=None, max_length=16)  # of body and say (zh-CN, en)
    # When it was handed to the provider: what the send bounds count.
    sent_at: datetime | None = _ts(nullable=True, index=True)
    # The send bound that held it back (alerts.bounds.Bound), if one did.
    bounded_by: str | None = Field(default=None, max_length=16)
    # A console row's `body` as a catalogue key and its fields, rendered in the reader's
    # language by the API; None for messages to a person (written in their language).
    body_msg: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class ApiToken(SQLModel, table=True):
    """A bearer token minted for a person; only its hash is kept."""

    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=16)
    name: str = Field(max_length=200)
    subject_id: int | None = None  # the contact / volunteer / merchant this person is
    elder_ids: list[int] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = _ts()
    expires_at: datetime | None = _ts(nullable=True)
    revoked_at: datetime | None = _ts(nullable=True)


class LadderConfig(SQLModel, table=True):
    """An admin's escalation ladder for one case kind; kinds without a row use the default."""

    __tablename__ = "ladder_config"
    kind: str = Field(primary_key=True, max_length=16)
    steps: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    # The last rung runs again every repeat_every_s, at most `repeat` times (0011).
    repeat: int = Field(default=3, sa_column_kwargs={"server_default": "3"})
    repeat_every_s: int = Field(default=300, sa_column_kwargs={"server_default": "300"})
    updated_by: str = Field(default="", max_length=100)
    updated_at: datetime = _ts()


# -- dispatch: volunteers, merchants, callbacks, deadlines (migration 0003) ---------------------


class Volunteer(SQLModel, table=True):
    """A volunteer who is offered care tasks near their home."""

    __tablename__ = "volunteer"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    phone: str = Field(max_length=32)
    lat: float
    lon: float
    skills: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # weekday ("mon"…"sun") → ["08:00-12:00", …] in the centre's time zone
    availability: dict[str, list[str]] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    active: bool = True
    created_at: datetime = _ts()
    drill_opt_in: bool = False  # takes part in drills: gets their TEST messages (0007)
    # BCP 47 tag (zh-CN or en) of the texts this person reads and hears; None: the centre's.
    language: str | None = Field(default=None, max_length=16)


class VolunteerTask(SQLModel, table=True):
    """One offer of a care case to one volunteer, and what became of it."""

    __tablename__ = "task"
    __table_args__ = (UniqueConstraint("case_id", "volunteer_id", name="uq_task_offer"),)
    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="care_case.id", index=True, max_length=32)
    volunteer_id: int = Field(foreign_key="volunteer.id", index=True)
    ring: int = 0  # which widening of the circle offered it (0 first)
    distance_km: float = 0.0
    # offered | accepted | declined | expired | withdrawn | done
    status: str = Field(default="offered", max_length=16)
    need: str = Field(default="", max_length=500)
    needs_medical: bool = False  # may the volunteer read the elder's medical notes
    offered_at: datetime = _ts()
    answered_at: datetime | None = _ts(nullable=True)


class CaseNeed(SQLModel, table=True):
    """What a care case asks of a volunteer, when an operator said more than the press did."""

    __tablename__ = "case_need"
    case_id: str = Field(primary_key=True, foreign_key="care_case.id", max_length=32)
    need: str = Field(default="", max_length=500)
    skill: str | None = Field(default=None, max_length=64)
    needs_medical: bool = False


class Merchant(SQLModel, table=True):
    """A franchised merchant (加盟商) taking service orders of its categories."""

    __tablename__ = "merchant"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    phone: str = Field(max_length=32)
    categories: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    lat: float | None = None
    lon: float | None = None
    rating: float = 3.0  # 0–5
    status: str = Field(default="active", max_length=16)  # active | yellow | red | removed
    red_until: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()
    # Opening hours, weekday → ["08:00-20:00"] local time; None: always open (migration 0009)
    hours: dict[str, list[str]] | None = Field(default=None, sa_column=Column(JSON))
    # BCP 47 tag (zh-CN or en) of the texts this person reads and hears; None: the centre's.
    language: str | None = Field(default=None, max_length=16)


class ServiceOrder(SQLModel, table=True):
    """A service case turned into an order for a merchant; it moves on when contact is late."""

    __tablename__ = "service_order"
    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="care_case.id", index=True, max_length=32)
    category: str = Field(max_length=64)
    note: str = Field(default="", max_length=1000)
    strategy: str = Field(default="balanced", max_length=16)
    # assigned | contacted | done | unassigned | cancelled
    status: str = Field(default="assigned", max_length=16, index=True)
    merchant_id: int | None = Field(default=None, foreign_key="merchant.id", index=True)
    assigned_at: datetime | None = _ts(nullable=True)
    contact_due_at: datetime | None = _ts(nullable=True)
    contacted_at: datetime | None = _ts(nullable=True)
    done_at: datetime | None = _ts(nullable=True)
    created_by: str = Field(default="", max_length=100)
    created_at: datetime = _ts()


class OrderAttempt(SQLModel, table=True):
    """One merchant's turn at an order: the merchant's record of contacts made and missed."""

    __tablename__ = "order_attempt"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="service_order.id", index=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    score: float = 0.0
    distance_km: float | None = None
    assigned_at: datetime = _ts(index=True)
    contact_due_at: datetime = _ts()
    # pending | contacted | missed | declined | withdrawn
    outcome: str = Field(default="pending", max_length=16)
    ended_at: datetime | None = _ts(nullable=True)


class Callback(SQLModel, table=True):
    """One callback (回访) to the elder after a case was resolved, reached or not."""

    __tablename__ = "callback"
    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="care_case.id", index=True, max_length=32)
    at: datetime = _ts()
    by: str = Field(max_length=100)
    reached: bool = True
    time_ok: bool | None = None
    quality: int | None = None  # 1–5
    price_ok: bool | None = None
    satisfaction: int | None = None  # 1–5
    comment: str = Field(default="", max_length=1000)


class MerchantStrike(SQLModel, table=True):
    """A bad callback held against a merchant; an admin may revoke it, with a reason."""

    __tablename__ = "merchant_strike"
    id: int | None = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    case_id: str = Field(foreign_key="care_case.id", max_length=32)
    callback_id: int | None = Field(default=None, foreign_key="callback.id")
    at: datetime = _ts()
    card: str = Field(max_length=16)  # the standing it brought: yellow | red | removed
    reason: str = Field(default="", max_length=500)
    revoked_at: datetime | None = _ts(nullable=True)
    revoked_by: str | None = Field(default=None, max_length=100)
    revoke_reason: str | None = Field(default=None, max_length=500)


class CalendarDay(SQLModel, table=True):
    """An admin's exception to Monday–Friday: a holiday, or a make-up working day."""

    __tablename__ = "calendar_day"
    day: str = Field(primary_key=True, max_length=10)  # YYYY-MM-DD, the centre's local day
    working: bool
    note: str = Field(default="", max_length=200)
    updated_by: str = Field(default="", max_length=100)
    updated_at: datetime = _ts()


class CaseDeadline(SQLModel, table=True):
    """The working-day limit of a hand-filed matter, its one extension, and its last notice."""

    __tablename__ = "case_deadline"
    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="care_case.id", unique=True, max_length=32)
    matter: str = Field(max_length=16)  # department | general | complaint
    limit_days: int
    filed_at: datetime = _ts()
    due_at: datetime = _ts(index=True)
    extended_days: int = 0
    extension_reason: str = Field(default="", max_length=500)
    extended_at: datetime | None = _ts(nullable=True)
    supervised_at: datetime | None = _ts(nullable=True)  # the last supervision notice (督办)


# -- the terminal fleet: commands, lifecycle history, per-model intervals (migration 0004) -----


class DeviceCommand(SQLModel, table=True):
    """A downlink command (ring, ping, config) and what became of it."""

    __tablename__ = "device_command"
    __table_args__ = (Index("ix_device_command_device_created", "device_id", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(foreign_key="device.device_id", max_length=64)
    cmd: str = Field(max_length=16)  # ring | ping | config
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # pending | sent | ok | failed | timeout
    status: str = Field(default="pending", max_length=16, index=True)
    requested_by: str = Field(default="", max_length=100)
    created_at: datetime = _ts()
    sent_at: datetime | None = _ts(nullable=True)
    answered_at: datetime | None = _ts(nullable=True)
    detail: str | None = Field(default=None, max_length=500)
    round_trip_ms: int | None = None


class DeviceHistory(SQLModel, table=True):
    """One line of a terminal's life: provisioned, bound, moved, retired, rotated, booted."""

    __tablename__ = "device_history"
    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(foreign_key="device.device_id", index=True, max_length=64)
    at: datetime = _ts()
    by: str = Field(max_length=100)
    action: str = Field(max_length=32)
    elder_id: int | None = None  # the elder it is bound to after this line
    detail: str = Field(default="", max_length=500)
    # The detail as a catalogue key and fields, for the reader's language (0031).
    detail_msg: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class DeviceModel(SQLModel, table=True):
    """The heartbeat interval terminals of one model are expected to keep."""

    __tablename__ = "device_model"
    model: str = Field(primary_key=True, max_length=64)
    heartbeat_s: int
    updated_by: str = Field(default="", max_length=100)
    updated_at: datetime = _ts()


# -- who read what of an elder (migration 0005) ------------------------------------------------


class AuditLog(SQLModel, table=True):
    """One read of an elder's data by a person: who, in which role, what, when, by which route."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_elder_at", "elder_id", "at"),
        Index("ix_audit_log_actor_at", "actor", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts()
    actor: str = Field(max_length=100)  # role:name, as in case histories
    role: str = Field(max_length=16)
    token_id: int | None = None  # None for the configured admin token
    what: str = Field(max_length=32)  # elder | contacts | case | task | order
    ref: str | None = Field(default=None, max_length=64)  # the case, task or order read
    # No foreign key: the trail of who read an elder's data outlives anything done to the row.
    elder_id: int
    route: str = Field(max_length=200)  # "GET /api/v1/elders/{elder_id}"


# -- rotas: who is on duty (migration 0009) ------------------------------------------------------


class Shift(SQLModel, table=True):
    """One operator's or supervisor's turn of duty; the ladder pages the supervisor on duty."""

    __tablename__ = "shift"
    __table_args__ = (Index("ix_shift_role_end", "role", "end_at"),)
    id: int | None = Field(default=None, primary_key=True)
    person: str = Field(max_length=200)
    role: str = Field(max_length=16)  # operator | supervisor
    phone: str = Field(default="", max_length=32)
    start_at: datetime = _ts()
    end_at: datetime = _ts()
    created_by: str = Field(default="", max_length=100)
    created_at: datetime = _ts()


# -- wellness check-ins and quiet-period watches (migration 0008) ---------------------


class CheckinWindow(SQLModel, table=True):
    """A daily "I'm OK" window of an elder, in the centre's local time; missed, a care case."""

    __tablename__ = "checkin_window"
    id: int | None = Field(default=None, primary_key=True)
    elder_id: int = Field(foreign_key="elder.id", index=True)
    start: str = Field(max_length=5)  # "08:00"
    end: str = Field(max_length=5)  # "10:00"
    holidays_off: bool = True  # no check-in on the calendar's public holidays
    active: bool = True
    kept_at: datetime | None = _ts(nullable=True)  # the last press that counted
    missed_case_id: str | None = Field(default=None, max_length=32)  # the last missed one's
    created_by: str = Field(default="", max_length=100)
    created_at: datetime = _ts()


class ElderAway(SQLModel, table=True):
    """A local day the elder is away (with family, in hospital): no check-in, no quiet watch."""

    __tablename__ = "elder_away"
    __table_args__ = (UniqueConstraint("elder_id", "day", name="uq_elder_away_day"),)
    id: int | None = Field(default=None, primary_key=True)
    elder_id: int = Field(foreign_key="elder.id", index=True)
    day: str = Field(max_length=10)  # YYYY-MM-DD
    note: str = Field(default="", max_length=200)


class QuietWatch(SQLModel, table=True):
    """An elder's no-activity watch: after `quiet_s` without a sign of life, prompt, then a case."""

    __tablename__ = "quiet_watch"
    elder_id: int = Field(primary_key=True, foreign_key="elder.id")
    quiet_s: int = 13 * 3600
    grace_s: int = 15 * 60  # after the terminal's prompt, this long for a press
    active: bool = True
    last_activity_at: datetime | None = _ts(nullable=True)
    prompted_at: datetime | None = _ts(nullable=True)  # the prompt now waiting for a press
    case_id: str | None = Field(default=None, max_length=32)  # the last case it opened
    updated_by: str = Field(default="", max_length=100)
    updated_at: datetime = _ts()


# -- drills: terminals and districts in test mode (migration 0007) -----------------------------


class Drill(SQLModel, table=True):
    """A terminal or a whole district in test mode while `ended_at` is null."""

    __tablename__ = "drill"
    id: int | None = Field(default=None, primary_key=True)
    device_id: str | None = Field(default=None, max_length=64, index=True)
    district: str | None = Field(default=None, max_length=64, index=True)
    note: str = Field(default="", max_length=500)
    started_by: str = Field(max_length=100)
    started_at: datetime = _ts()
    ended_at: datetime | None = _ts(nullable=True, index=True)
    ended_by: str | None = Field(default=None, max_length=100)


# -- Twilio webhooks received once (migration 0012) --------------------------------------------


class WebhookReceipt(SQLModel, table=True):
    """A Twilio webhook that may change a case, taken once: a replay of it is refused.

    `sid` is Twilio's MessageSid or CallSid, `step` what the request did with it ("sms", or
    a key press on a call: "voice C-…-0007 1"). Kept for good: an answer has no time of its
    own, so only its first sighting tells a replay from a new answer.
    """

    __tablename__ = "webhook_receipt"
    __table_args__ = (UniqueConstraint("sid", "step", name="uq_webhook_receipt_sid_step"),)
    id: int | None = Field(default=None, primary_key=True)
    sid: str = Field(max_length=64)
    step: str = Field(max_length=100)
    received_at: datetime = _ts()


# The hotline's tables live in their own module (migration 0020); imported here so that
# every table is known wherever this module is.
import care_api.store.channel_tables  # noqa: E402, F401  (the channel model's tables)
from care_api.store import desk_tables as desk_tables  # noqa: E402  the desk's tables (0025)
from care_api.store import staff_tables as _staff_tables  # noqa: E402, F401  (0027)
from care_api.store.call_tables import AutoCallback, CaseCall  # noqa: E402, F401  (migration 0021)
from care_api.store.hotline_tables import HotlineCall as HotlineCall  # noqa: E402
from care_api.store.hotline_tables import WalkInCaller as WalkInCaller  # noqa: E402
from care_api.store.incident_tables import Incident, IncidentTerminal, TechSignal  # noqa: E402, F401
from care_api.store.watch_tables import HealthReading, PositionPoint, SafeZone  # noqa: E402, F401
