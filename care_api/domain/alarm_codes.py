"""Contact ID (SIA DC-05) equivalents of device events and cases, both ways; pure.

A Contact ID event is `Q EEE`: the qualifier (1 new event or opening, 3 restore or closing)
and a three-digit event code. Alarm-receiving centres compare systems by these codes, so
every device event and every alarm case carries its equivalent, and a receiver of Contact
ID events (SIA DC-09) maps them back to the case kind they open.

Requests that are not alarms (a `service`, `care` or `consult` press) have no Contact ID
equivalent and map to None: the standard has no code for "please call me back".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from care_api.domain.errors import InvalidInput
from care_api.domain.fleet import LOW_BATTERY_PERCENT, Problem
from care_api.domain.model import CaseKind, ReportType
from care_api.domain.texts import Msg

NEW = 1  # new event, or opening
RESTORE = 3  # restore, or closing
QUALIFIERS = frozenset({NEW, RESTORE, 6})  # 6: previously reported condition still present

MEDICAL = 100
PERSONAL_EMERGENCY = 101
FAIL_TO_REPORT = 102
SYSTEM_TROUBLE = 300
AC_LOSS = 301
LOW_BATTERY = 302
SYSTEM_RESET = 305
CANCEL = 406
PERIODIC_TEST = 602

# The descriptions of the codes this service sends or understands (SIA DC-05 names).
DESCRIPTIONS: Mapping[int, str] = {
    MEDICAL: "Medical",
    PERSONAL_EMERGENCY: "Personal emergency",
    FAIL_TO_REPORT: "Fail to report in",
    110: "Fire",
    111: "Smoke",
    112: "Combustion",
    113: "Water flow",
    114: "Heat",
    115: "Pull station",
    116: "Duct",
    117: "Flame",
    118: "Near alarm",
    120: "Panic",
    121: "Duress",
    122: "Silent panic",
    123: "Audible panic",
    SYSTEM_TROUBLE: "System trouble",
    AC_LOSS: "AC loss",
    LOW_BATTERY: "Low system battery",
    SYSTEM_RESET: "System reset",
    309: "Battery test failure",
    CANCEL: "Cancel",
    PERIODIC_TEST: "Periodic test report",
}

# What a received code opens. Medical, fire and panic alarms are emergencies for an elder
# living alone; a unit that stops reporting or loses power or battery is a device case.
_KIND_OF_CODE: Mapping[int, CaseKind] = {
    MEDICAL: CaseKind.EMERGENCY,
    PERSONAL_EMERGENCY: CaseKind.EMERGENCY,
    FAIL_TO_REPORT: CaseKind.DEVICE,
    **dict.fromkeys(range(110, 119), CaseKind.EMERGENCY),
    **dict.fromkeys(range(120, 124), CaseKind.EMERGENCY),
    SYSTEM_TROUBLE: CaseKind.DEVICE,
    AC_LOSS: CaseKind.DEVICE,
    LOW_BATTERY: CaseKind.DEVICE,
    309: CaseKind.DEVICE,
}

# Why a case was opened, where the kind alone does not say (`open_case(cause=…)`).
CAUSE_FALL = "fall"
CAUSE_MISSED_CHECK_IN = "missed_check_in"
_CAUSE_CODES: Mapping[str, int] = {
    CAUSE_FALL: MEDICAL,
    CAUSE_MISSED_CHECK_IN: FAIL_TO_REPORT,
    Problem.OFFLINE.value: FAIL_TO_REPORT,
    Problem.POWER_LOST.value: AC_LOSS,
    Problem.BATTERY_LOW.value: LOW_BATTERY,
}
_KIND_CODES: Mapping[CaseKind, int] = {
    CaseKind.EMERGENCY: PERSONAL_EMERGENCY,
    CaseKind.DEVICE: SYSTEM_TROUBLE,
}


@dataclass(frozen=True, slots=True)
class ContactId:
    """One Contact ID event: qualifier and event code, e.g. 1 101 (new personal emergency)."""

    qualifier: int
    event: int

    def __post_init__(self) -> None:
        if self.qualifier not in QUALIFIERS:
            raise InvalidInput(
                Msg(
                    "Contact ID qualifier must be 1, 3 or 6, not {qualifier}",
                    qualifier=self.qualifier,
                )
            )
        if not 0 <= self.event <= 999:
            raise InvalidInput(
                Msg("Contact ID event code must be 0-999, not {event}", event=self.event)
            )

    @property
    def code(self) -> str:
        """The four digits `QEEE` as centres print them: "1101", "3301"."""
        return f"{self.qualifier}{self.event:03d}"

    @property
    def restore(self) -> bool:
        """True for a restore (qualifier 3): the condition has ended."""
        return self.qualifier == RESTORE

    @property
    def description(self) -> str:
        """The standard's name of the event code, "Event 123" for one this table lacks."""
        return describe(self.event)


def describe(code: int) -> str:
    """The standard's name of an event code, or "Event NNN"."""
    return DESCRIPTIONS.get(code, f"Event {code:03d}")


def parse_contact_id(text: str) -> ContactId:
    """Read the four digits `QEEE` ("1101"); raises ValueError on anything else."""
    if len(text) != 4 or not text.isascii() or not text.isdigit():
        raise InvalidInput(
            Msg("a Contact ID code is four digits QEEE, not {text}", text=repr(text))
        )
    return ContactId(int(text[0]), int(text[1:]))


def kind_for_contact_id(code: int) -> str | None:
    """The case kind a received Contact ID event opens ("emergency", "device"), or None.

    `code` is the event code (101) or the four digits with the qualifier (1101); only a new
    event opens a case, so a restore (3101) or a still-present report (6101) gives None.
    """
    qualifier, event = divmod(code, 1000) if code >= 1000 else (NEW, code)
    kind = _KIND_OF_CODE.get(event) if qualifier == NEW else None
    return kind.value if kind is not None else None


def contact_id_for_case(kind: str, cause: str | None = None) -> ContactId | None:
    """The code a case carries from its opening: by its cause first, else by its kind.

    Causes: "fall", "missed_check_in", and the terminal problems ("offline", "power lost",
    "battery low"). Kinds that are not alarms have none.
    """
    event = _CAUSE_CODES.get(cause) if cause is not None else None
    if event is None:
        try:
            event = _KIND_CODES.get(CaseKind(kind))
        except ValueError:
            return None
    return ContactId(NEW, event) if event is not None else None


def contact_id_for_event(
    event_type: str,
    fields: Mapping[str, object] | None = None,
    *,
    case_kind: str | None = None,
) -> ContactId | None:
    """The code of one device event (PROTOCOL.md types); None when it has no equivalent.

    A press has the code of the case it opened or joined (`case_kind`): an emergency
    press is 1 101, a service or care press has none. Power and battery events are a new
    event when the trouble starts and a restore when it ends.
    """
    f = fields or {}
    if event_type == ReportType.PRESS:
        return contact_id_for_case(case_kind) if case_kind is not None else None
    if event_type == ReportType.FALL:
        return ContactId(NEW, MEDICAL)
    if event_type == ReportType.CANCEL:
        return ContactId(NEW, CANCEL)
    if event_type == ReportType.HEARTBEAT:
        return ContactId(NEW, PERIODIC_TEST)
    if event_type == ReportType.BOOT:
        return ContactId(NEW, SYSTEM_RESET)
    if event_type == ReportType.POWER:
        state = f.get("state")
        if state == "lost":
            return ContactId(NEW, AC_LOSS)
        return ContactId(RESTORE, AC_LOSS) if state == "restored" else None
    if event_type == ReportType.BATTERY:
        level = f.get("level")
        if not isinstance(level, int) or isinstance(level, bool):
            return None
        return ContactId(NEW if level < LOW_BATTERY_PERCENT else RESTORE, LOW_BATTERY)
    return None
