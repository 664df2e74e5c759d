"""Downlink commands (ring, ping, config): requested, sent, answered or timed out, as rows.

A request writes the `device_command` row and a timeout timer row in one transaction and
emits `CommandRequested`; the gateway claims the row (pending → sent) and publishes it.
The terminal's `cmd_result` (intake) answers it; the timer marks it `timeout` otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlmodel import Session, col, select

from care_api.domain.errors import Conflict, InvalidInput, NotFound
from care_api.domain.events import CommandRequested
from care_api.domain.fleet import check_heartbeat_s
from care_api.domain.keymap import validate_keymap
from care_api.domain.model import TimerPurpose
from care_api.domain.texts import Msg
from care_api.domain.watch_commands import MAX_SOS_NUMBERS, WATCH_ONLY, params_of, watch_command
from care_api.store.call_tables import OperatorPhone
from care_api.store.tables import Contact, Device, DeviceCommand, Timer
from care_api.store.uow import SqlUnitOfWork

log = logging.getLogger(__name__)

COMMAND_TIMEOUT_S = 60
MAX_PARAMS = 16
MAX_DETAIL_CHARS = 500
COMMAND_LIST_MAX = 200
CONFIG_KEYS = frozenset({"heartbeat_s", "keymap"})
RESERVED_KEYS = frozenset({"cmd", "id"})


class CommandName(StrEnum):
    """What a terminal can be told to do (PROTOCOL.md, downlink commands)."""

    RING = "ring"  # ring so that it can be found
    PING = "ping"  # answer at once: a round trip
    CONFIG = "config"  # change settings: heartbeat_s, keymap
    # 4G watches only (care_api.domain.watch_commands); `ring` is their FIND.
    LOCATE = "locate"  # report the position now
    SOS_NUMBERS = "sos_numbers"  # the numbers its SOS button dials (default: the contacts)
    CALL = "call"  # dial a number
    MONITOR = "monitor"  # call a number back and listen
    UPLOAD = "upload"  # position interval in seconds
    POWER_OFF = "power_off"


class CommandStatus(StrEnum):
    """Where a command stands."""

    PENDING = "pending"
    SENT = "sent"
    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"


WAITING = (CommandStatus.PENDING.value, CommandStatus.SENT.value)


def check_params(cmd: CommandName, params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters to send, checked; ValueError says what is wrong (HTTP 422)."""
    if len(params) > MAX_PARAMS:
        raise InvalidInput(Msg("at most {most} parameters", most=MAX_PARAMS))
    reserved = sorted(RESERVED_KEYS & set(params))
    if reserved:
        raise InvalidInput(
            Msg("parameters may not be named {reserved}", reserved=", ".join(reserved))
        )
    out = dict(params)
    if cmd.value in WATCH_ONLY:
        return params_of(watch_command(cmd.value, params))
    if cmd is CommandName.CONFIG:
        unknown = sorted(set(params) - CONFIG_KEYS)
        if unknown:
            raise InvalidInput(
                Msg(
                    "config knows {allowed}, not {unknown}",
                    allowed=str(sorted(CONFIG_KEYS)),
                    unknown=str(unknown),
                )
            )
        if not params:
            raise InvalidInput(Msg("config needs heartbeat_s or keymap"))
        if "heartbeat_s" in params:
            out["heartbeat_s"] = check_heartbeat_s(params["heartbeat_s"])
        if "keymap" in params:
            out["keymap"] = {k: str(v) for k, v in validate_keymap(params["keymap"]).items()}
    return out


def request_command(
    uow: SqlUnitOfWork,
    device_id: str,
    cmd: CommandName,
    params: Mapping[str, Any],
    *,
    by: str,
    now: datetime,
    timeout_s: int = COMMAND_TIMEOUT_S,
    hotline: str | None = None,
) -> DeviceCommand:
    """Queue a command for the terminal, with its timeout; the gateway sends it after commit.

    A watch's `sos_numbers` `{"hotline": true}` is the centre's `hotline`; `call` and
    `monitor` without a number call back the phone the requester set (PUT /me/phone).
    """
    device = uow.session.get(Device, device_id)
    if device is None:
        raise NotFound(Msg("device {device_id} not found", device_id=device_id))
    if device.status == "retired":
        raise Conflict(Msg("device {device_id} is retired", device_id=device_id))
    if cmd is CommandName.SOS_NUMBERS and "hotline" in params:
        params = _hotline_numbers(params, hotline)
    elif cmd is CommandName.SOS_NUMBERS and not params.get("numbers"):
        params = {**params, "numbers": _contact_phones(uow.session, device)}
    if cmd in (CommandName.CALL, CommandName.MONITOR) and "number" not in params:
        mine = uow.session.get(OperatorPhone, by)
        if mine is None:
            raise InvalidInput(
                "give the number, or set your own phone first (PUT /api/v1/me/phone)"
            )
        params = {**params, "number": mine.phone}
    row = DeviceCommand(
        device_id=device_id,
        cmd=cmd.value,
        params=check_params(cmd, params),
        requested_by=by,
        created_at=now,
    )
    uow.session.add(row)
    uow.session.flush()
    if row.id is None:  # pragma: no cover - the flush assigned it
        raise RuntimeError("command row has no id after flush")
    due = now + timedelta(seconds=timeout_s)
    uow.session.add(
        Timer(purpose=TimerPurpose.DEVICE_COMMAND, step=row.id, due_at=due, created_at=now)
    )
    uow.emit(CommandRequested(row.id, device_id))
    return row


def _hotline_numbers(params: Mapping[str, Any], hotline: str | None) -> dict[str, Any]:
    """`{"hotline": true}`: the watch's SOS button dials the centre's hotline only."""
    if params.get("hotline") is not True or set(params) != {"hotline"}:
        raise InvalidInput('hotline must be true, and alone (not with "numbers")')
    if not hotline:
        raise InvalidInput(Msg("the centre has no hotline number: set VNH_HOTLINE_NUMBER"))
    return {"numbers": [hotline]}


def _contact_phones(session: Session, device: Device) -> list[str]:
    """The elder's first contacts (by priority) who are paged, for the watch's SOS slots."""
    if device.elder_id is None:
        raise InvalidInput(
            Msg("device {device_id} has no elder: give the numbers", device_id=device.device_id)
        )
    phones = session.exec(
        select(Contact.phone)
        .where(col(Contact.elder_id) == device.elder_id, col(Contact.notify_only).is_(False))
        .order_by(col(Contact.priority), col(Contact.id))
        .limit(MAX_SOS_NUMBERS)
    ).all()
    if not phones:
        raise InvalidInput(Msg("the elder has no contacts: give the numbers"))
    return list(phones)


def get_command(session: Session, device_id: str, command_id: int) -> DeviceCommand:
    """One command of the terminal, or NotFound."""
    row = session.get(DeviceCommand, command_id)
    if row is None or row.device_id != device_id:
        raise NotFound(
            Msg(
                "command {command_id} of device {device_id} not found",
                command_id=command_id,
                device_id=device_id,
            )
        )
    return row


def list_commands(
    session: Session, device_id: str, limit: int = COMMAND_LIST_MAX
) -> list[DeviceCommand]:
    """The terminal's commands, newest first."""
    return list(
        session.exec(
            select(DeviceCommand)
            .where(DeviceCommand.device_id == device_id)
            .order_by(col(DeviceCommand.created_at).desc(), col(DeviceCommand.id).desc())
            .limit(limit)
        ).all()
    )


def claim_for_sending(session: Session, command_id: int, now: datetime) -> DeviceCommand | None:
    """Move a pending command to `sent`; None if another sender (or the timeout) was first."""
    claimed = cast(
        CursorResult[Any],
        session.execute(
            update(DeviceCommand)
            .where(
                col(DeviceCommand.id) == command_id,
                col(DeviceCommand.status) == CommandStatus.PENDING.value,
            )
            .values(status=CommandStatus.SENT.value, sent_at=now)
            .execution_options(synchronize_session=False)
        ),
    )
    if claimed.rowcount != 1:
        return None
    return session.get(DeviceCommand, command_id, populate_existing=True)


def pending_ids(session: Session, created_before: datetime, limit: int = 100) -> list[int]:
    """Commands nobody sent yet (their event went to another process, or was missed)."""
    return [
        int(i)
        for i in session.exec(
            select(DeviceCommand.id)
            .where(
                col(DeviceCommand.status) == CommandStatus.PENDING.value,
                col(DeviceCommand.created_at) <= created_before,
            )
            .order_by(col(DeviceCommand.id))
            .limit(limit)
        ).all()
        if i is not None
    ]


def mark_failed(session: Session, command_id: int, detail: str, now: datetime) -> bool:
    """The command cannot be carried out (no way to reach the terminal); False if settled."""
    row = session.get(DeviceCommand, command_id)
    if row is None or row.status not in WAITING:
        return False
    row.status = CommandStatus.FAILED.value
    row.detail = detail[:MAX_DETAIL_CHARS]
    row.answered_at = now
    session.add(row)
    _cancel_timeout(session, command_id)
    return True


def expire_command(session: Session, command_id: int, now: datetime) -> bool:
    """The timeout fell due: a command still waiting becomes `timeout`; True if it did."""
    row = session.get(DeviceCommand, command_id)
    if row is None or row.status not in WAITING:
        return False
    waited = int((now - row.created_at).total_seconds())
    row.status = CommandStatus.TIMEOUT.value
    row.detail = f"no answer within {waited} s"
    session.add(row)
    log.info("command %d (%s) to %s timed out", command_id, row.cmd, row.device_id)
    return True


def record_result(
    session: Session, device_id: str, *, ref: object, ok: bool, detail: object, now: datetime
) -> DeviceCommand | None:
    """A terminal's `cmd_result`: settle the command it names, with the round trip.

    An answer after the timeout still settles it (marked late). A `config` the terminal
    accepted also moves the interval the fleet watch expects of it.
    """
    row = session.get(DeviceCommand, _command_id(ref)) if _command_id(ref) else None
    if row is None or row.device_id != device_id:
        log.warning("cmd_result from %s names no command of it: ref=%r", device_id, ref)
        return None
    if row.status not in (*WAITING, CommandStatus.TIMEOUT.value):
        return row  # answered already
    late = row.status == CommandStatus.TIMEOUT.value
    text = "" if detail is None else str(detail)
    row.status = (CommandStatus.OK if ok else CommandStatus.FAILED).value
    row.detail = (f"{text} (late)" if late else text)[:MAX_DETAIL_CHARS]
    row.answered_at = now
    started = row.sent_at or row.created_at
    row.round_trip_ms = max(0, int((now - started).total_seconds() * 1000))
    session.add(row)
    _cancel_timeout(session, row.id)
    if ok and row.cmd == CommandName.CONFIG.value and "heartbeat_s" in row.params:
        device = session.get(Device, device_id)
        if device is not None:
            device.heartbeat_s = int(row.params["heartbeat_s"])
            session.add(device)
    return row


def _command_id(ref: object) -> int | None:
    text = str(ref) if isinstance(ref, str | int) and not isinstance(ref, bool) else ""
    return int(text) if text.isdigit() and len(text) <= 18 else None


def _cancel_timeout(session: Session, command_id: int | None) -> None:
    session.execute(
        update(Timer)
        .where(
            col(Timer.purpose) == TimerPurpose.DEVICE_COMMAND,
            col(Timer.step) == command_id,
            col(Timer.fired_at).is_(None),
        )
        .values(cancelled=True)
        .execution_options(synchronize_session=False)
    )


def answer_watch_command(
    session: Session, device_id: str, cmds: frozenset[str], detail: str, now: datetime
) -> DeviceCommand | None:
    """A watch answered with a command's keyword: settle its oldest such command sent.

    A watch answers with the keyword alone (no id), so the oldest command of those names
    that is still waiting for its answer (or timed out) is the one answered.
    """
    row = session.exec(
        select(DeviceCommand)
        .where(
            col(DeviceCommand.device_id) == device_id,
            col(DeviceCommand.cmd).in_(sorted(cmds)),
            col(DeviceCommand.status).in_([CommandStatus.SENT.value, CommandStatus.TIMEOUT.value]),
        )
        .order_by(col(DeviceCommand.status), col(DeviceCommand.id))  # sent before timeout
        .limit(1)
    ).first()
    if row is None:
        log.info("watch %s answered %s, which nobody sent it", device_id, sorted(cmds))
        return None
    return record_result(session, device_id, ref=row.id, ok=True, detail=detail, now=now)
