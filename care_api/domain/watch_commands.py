"""Commands a 4G watch understands, as types: what the API accepts and the gateway sends.

The API names them (`locate`, `sos_numbers`, …) and stores their parameters as checked
JSON; `watch_command` turns the stored row back into one of these types, so the gateway
never sends a dict it did not check. `ring` is the watch's `FIND`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import phonenumbers

from care_api.domain.errors import InvalidInput
from care_api.domain.phones import DEFAULT_REGION, to_e164
from care_api.domain.texts import Msg

MAX_SOS_NUMBERS = 3  # the watch has three SOS slots
UPLOAD_MIN_S = 10
UPLOAD_MAX_S = 86_400


@dataclass(frozen=True, slots=True)
class Locate:
    """Report the position now (`CR`)."""


@dataclass(frozen=True, slots=True)
class Find:
    """Ring so that it can be found (`FIND`)."""


@dataclass(frozen=True, slots=True)
class PowerOff:
    """Switch off (`POWEROFF`)."""


@dataclass(frozen=True, slots=True)
class SosNumbers:
    """The numbers its SOS button dials, in order (`SOS,n1,n2,n3`); E.164."""

    numbers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Call:
    """Dial `number` (`CALL,number`)."""

    number: str


@dataclass(frozen=True, slots=True)
class Monitor:
    """Call `number` back and listen (`MONITOR,number`)."""

    number: str


@dataclass(frozen=True, slots=True)
class Upload:
    """Report the position every `seconds` (`UPLOAD,seconds`)."""

    seconds: int


WatchCommand = Locate | Find | PowerOff | SosNumbers | Call | Monitor | Upload

# API command name → the typed command's class; `ring` is shared with the terminals.
WATCH_ONLY = frozenset({"locate", "sos_numbers", "call", "monitor", "upload", "power_off"})
WATCH_COMMANDS = WATCH_ONLY | {"ring"}


def watch_command(
    cmd: str, params: Mapping[str, Any], region: str = DEFAULT_REGION
) -> WatchCommand:
    """The typed command of an API command and its parameters.

    Raises:
        InvalidInput: a command a watch cannot carry, or parameters that do not fit it.
    """
    match cmd:
        case "locate":
            return Locate()
        case "ring":
            return Find()
        case "power_off":
            return PowerOff()
        case "sos_numbers":
            return SosNumbers(sos_numbers(params.get("numbers"), region))
        case "call":
            return Call(_number(params.get("number"), region))
        case "monitor":
            return Monitor(_number(params.get("number"), region))
        case "upload":
            return Upload(_seconds(params.get("seconds")))
    raise InvalidInput(Msg("a watch cannot carry {cmd}", cmd=repr(cmd)))


def params_of(command: WatchCommand) -> dict[str, Any]:
    """What is stored on the command row for `command` (read back by `watch_command`)."""
    match command:
        case SosNumbers():
            return {"numbers": list(command.numbers)}
        case Call() | Monitor():
            return {"number": command.number}
        case Upload():
            return {"seconds": command.seconds}
    return {}


def sos_numbers(raw: object, region: str = DEFAULT_REGION) -> tuple[str, ...]:
    """One to three numbers, each checked and in E.164."""
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes) or not raw:
        raise InvalidInput(
            Msg(
                "numbers must be a list of 1 to {max_sos_numbers} phone numbers",
                max_sos_numbers=MAX_SOS_NUMBERS,
            )
        )
    if len(raw) > MAX_SOS_NUMBERS:
        raise InvalidInput(
            Msg(
                "a watch keeps at most {max_sos_numbers} SOS numbers",
                max_sos_numbers=MAX_SOS_NUMBERS,
            )
        )
    return tuple(_number(n, region) for n in raw)


def dialable(e164: str, region: str = DEFAULT_REGION) -> str:
    """The digits a watch dials: the national number at home, 00 and the number abroad."""
    number = phonenumbers.parse(e164, None)
    if phonenumbers.region_code_for_number(number) == region.upper():
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        return "".join(ch for ch in national if ch.isdigit())
    return "00" + e164.lstrip("+")


def _number(raw: object, region: str) -> str:
    if not isinstance(raw, str):
        raise InvalidInput(Msg("number must be a phone number as text"))
    return to_e164(raw, region)


def _seconds(raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise InvalidInput(Msg("seconds must be a whole number"))
    if not UPLOAD_MIN_S <= raw <= UPLOAD_MAX_S:
        raise InvalidInput(
            Msg(
                "seconds must be {upload_min_s} to {upload_max_s}",
                upload_min_s=UPLOAD_MIN_S,
                upload_max_s=UPLOAD_MAX_S,
            )
        )
    return raw
