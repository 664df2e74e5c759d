"""Value types of the care domain: kinds, states, event keys and intake results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class CaseKind(StrEnum):
    """What a case is about; decides who is told and how."""

    EMERGENCY = "emergency"
    CARE = "care"
    SERVICE = "service"
    CONSULT = "consult"
    DEVICE = "device"


class ServiceLine(StrEnum):
    """Which of the centre's five service lines a case belongs to (DESIGN.md, Who it serves)."""

    LIFE_CARE = "life_care"  # 生活照料
    MEDICAL = "medical"  # 医疗护理
    EMERGENCY = "emergency"  # 应急援助
    LEGAL = "legal"  # 法律维权
    CARE_HOME = "care_home"  # 养老机构咨询


class CaseState(StrEnum):
    """Where a case stands in its lifecycle (DESIGN.md, Cases)."""

    OPEN = "open"
    DISPATCHED = "dispatched"
    ESCALATED = "escalated"
    ACCEPTED = "accepted"
    ON_SITE = "on_site"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class TimerPurpose(StrEnum):
    """What a timer row is for: the alerts engine runs one handler per purpose.

    Its `step` says which part: the ladder step due, a closed-loop stage, an order attempt's
    id, a deadline row's id, a device command's id.
    """

    LADDER = "ladder"  # step = the ladder step due
    # The closed loop of an accepted emergency: step 0 arms it when the case is taken,
    # step 1 checks "on site", step 2 chases resolution (alerts/closed_loop.py).
    LOOP = "loop"
    # Notices of what already happened to a case, written in the transaction that did it so
    # a crash before the alerts hear of it loses nothing: "taken" (step 0) when someone
    # acknowledges, "reclassified" (step = the history row's id) when the kind changes.
    TAKEN = "taken"
    RECLASSIFIED = "reclassified"
    # A matter's working-day deadline: no case id, so acknowledging the case (which cancels
    # the case's own timers) does not stop the clock; step = the deadline row's id.
    CASE_DEADLINE = "case_deadline"
    VOLUNTEER_RING = "volunteer_ring"  # step = the ring due (0 first)
    MERCHANT_NOTIFY = "merchant_notify"  # step = order_attempt.id: send the order now
    MERCHANT_CONTACT = "merchant_contact"  # step = order_attempt.id: contact overdue?
    DEVICE_SETTLE = "device_settle"  # resolve the device case if the terminal held
    DEVICE_COMMAND = "device_command"  # step = the command's id: answered in time?
    FALL_WINDOW = "fall_window"  # step = the fall's event id: open unless cancelled
    CHECKIN = "checkin"  # a wellness check-in window closing
    QUIET = "quiet"  # a quiet watch's silence to look at
    MISSED_CALL = "missed_call"  # step = the hotline_call row's id: called back in time?
    STORM_FOLLOWUP = "incident_followup"  # step = the incident's id: terminals still down?
    STORM_HOLD = "storm_hold"  # step = the tech_signal's id: open its case unless a storm
    AUTO_CALLBACK = "callback_auto"  # the machine's callback to the elder or family (回访)
    TAKEN_OFF = "watch_taken_off"  # step = the elder's id: a care case unless worn again


class ReportType(StrEnum):
    """Event types a terminal reports (PROTOCOL.md, Events)."""

    PRESS = "press"
    CANCEL = "cancel"
    HEARTBEAT = "heartbeat"
    BATTERY = "battery"
    POWER = "power"
    FALL = "fall"
    BOOT = "boot"
    CMD_RESULT = "cmd_result"
    STATUS = "status"  # the broker's last will / online marker, not an uplink event


class Role(StrEnum):
    """Who a person is to the service; decides what they may see and do."""

    ADMIN = "admin"
    OPERATOR = "operator"
    CAREGIVER = "caregiver"
    VOLUNTEER = "volunteer"
    MERCHANT = "merchant"


class IntakeStatus(StrEnum):
    """The answer a terminal gets for one event."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class EventKey:
    """`(device_id, boot, seq)`: names one device event and is its idempotency key."""

    device_id: str
    boot: int
    seq: int


@dataclass(frozen=True, slots=True)
class DeviceReport:
    """One event from a terminal as the domain sees it, whatever transport brought it.

    `fields` holds the event's own fields (pattern, battery, ref_seq…) as plain values.
    `source` names the transport and, for a serial hub, the port: "mqtt" or "serial:/dev/ttyUSB0".
    """

    key: EventKey
    type: ReportType
    fields: Mapping[str, object] = field(default_factory=dict)
    source: str = "mqtt"
    device_time: str | None = None


# A serial hub reporting for a terminal not provisioned behind it (PROTOCOL.md: a hub is
# trusted for those and no others). The hub's line is refused, not the terminal's event:
# the serial transport answers it `$NAK`.
NOT_BEHIND_HUB = "device not behind this hub"


@dataclass(frozen=True, slots=True)
class IntakeOutcome:
    """What intake decided for one report; the gateway turns it into the ack."""

    status: IntakeStatus
    case_id: str | None = None
    reason: str | None = None
    kind: CaseKind | None = None

    @classmethod
    def rejected(cls, reason: str) -> IntakeOutcome:
        """An event that opens nothing, with the reason the terminal is told."""
        return cls(IntakeStatus.REJECTED, reason=reason)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something: a person (by token), a device, or the system itself."""

    kind: str  # "person" | "device" | "system"
    id: str
    role: Role | None = None

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


SYSTEM = Actor("system", "vnh")
