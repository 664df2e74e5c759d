"""How a simulated terminal answers downlink commands (`ping`, `ring`, `config`); pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from firmware_sim import wire

MIN_HEARTBEAT_S = 0.1  # a floor, so a bad `config` cannot make the worker spin
MAX_HEARTBEAT_S = 86_400.0
# `heartbeat` is accepted too: PROTOCOL.md names the interval after the event.
HEARTBEAT_KEYS = ("heartbeat_s", "heartbeat")


@dataclass(frozen=True)
class Answer:
    """The `cmd_result` to send, and a new heartbeat interval when `config` set one."""

    ok: bool
    detail: str
    heartbeat_s: float | None = None


def check_heartbeat(seconds: object) -> float:
    """A valid heartbeat interval in seconds, or TypeError / ValueError."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise TypeError(f"heartbeat interval must be a number, got {seconds!r}")
    if not MIN_HEARTBEAT_S <= seconds <= MAX_HEARTBEAT_S:
        raise ValueError(f"heartbeat interval must be {MIN_HEARTBEAT_S}..{MAX_HEARTBEAT_S} s")
    return float(seconds)


def answer(command: wire.Command) -> Answer:
    """What the terminal replies to `command`; unknown commands and settings are refused."""
    if command.cmd == "ping":
        return Answer(True, "pong")
    if command.cmd == "ring":
        return Answer(True, "ringing")
    if command.cmd == "config":
        return _configure(command.params)
    return Answer(False, f"unknown command {command.cmd!r}")


def _configure(params: dict[str, Any]) -> Answer:
    known = {k: v for k, v in params.items() if k in HEARTBEAT_KEYS}
    unknown = sorted(set(params) - set(known))
    if unknown:
        return Answer(False, f"unknown settings {unknown}")
    if not known:
        return Answer(True, "nothing to change")
    try:
        seconds = check_heartbeat(next(iter(known.values())))
    except (TypeError, ValueError) as exc:
        return Answer(False, str(exc))
    return Answer(True, f"heartbeat_s={seconds:g}", heartbeat_s=seconds)
