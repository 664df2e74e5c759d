"""Wire events → the domain's DeviceReport: the line the protocol never crosses."""

from __future__ import annotations

from datetime import datetime, timedelta

from care_api.domain.fleet import DevicePosition, PositionSource
from care_api.domain.model import DeviceReport, EventKey, ReportType
from device_gateway.protocol.model import (
    Battery,
    Boot,
    Cancel,
    CmdResult,
    Fall,
    Heartbeat,
    Power,
    Press,
    WireEvent,
)
from device_gateway.protocol.watch_codec import Position

CLOCK_SLACK = timedelta(minutes=5)  # a watch clock this far ahead of ours is wrong


def to_report(event: WireEvent, *, source: str = "mqtt") -> DeviceReport:
    """The domain's view of `event`; `source` names the transport ("mqtt", "serial:…").

    Raises:
        TypeError: `event` is of a type this mapping does not know (a protocol addition
            that needs a line here).
    """
    report_type, fields = _body(event)
    return DeviceReport(
        key=EventKey(event.device_id, event.boot, event.seq),
        type=report_type,
        fields={name: value for name, value in fields.items() if value is not None},
        source=source,
        device_time=event.ts,
    )


def _body(event: WireEvent) -> tuple[ReportType, dict[str, object]]:
    # Enum members become their plain values: the domain stores fields as JSON.
    match event:
        case Press():
            return ReportType.PRESS, {"button": event.button, "pattern": str(event.pattern)}
        case Cancel():
            return ReportType.CANCEL, {"ref_seq": event.ref_seq}
        case Heartbeat():
            return ReportType.HEARTBEAT, {
                "battery": event.battery,
                "rssi": event.rssi,
                "fw": event.fw,
            }
        case Battery():
            return ReportType.BATTERY, {"level": event.level}
        case Power():
            return ReportType.POWER, {"state": str(event.state)}
        case Fall():
            return ReportType.FALL, {"confidence": event.confidence}
        case Boot():
            return ReportType.BOOT, {"fw": event.fw}
        case CmdResult():
            return ReportType.CMD_RESULT, {"ref": event.ref, "ok": event.ok, "detail": event.detail}
    raise TypeError(f"no domain mapping for wire event {type(event).__name__}")


def to_position(position: Position, received_at: datetime) -> DevicePosition | None:
    """The domain's view of a watch position; None when it says nowhere.

    Without a believable time of its own (not yet synchronised, or ahead of ours) it is
    placed at the receive time, so a wrong clock cannot pin an old position in place.
    Without a GPS fix many watches repeat 0,0 or their last fix: 0,0 is nowhere.
    """
    if position.lat is None or position.lon is None:
        return None
    if not position.gps_fix and position.lat == 0 and position.lon == 0:
        return None
    at = position.at
    if at is None or at > received_at + CLOCK_SLACK:
        at = received_at
    return DevicePosition(
        at=at,
        lat=position.lat,
        lon=position.lon,
        fix=position.gps_fix,
        source=PositionSource(position.source),
    )
