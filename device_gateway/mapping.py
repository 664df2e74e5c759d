"""Wire events → the domain's DeviceReport: the line the protocol never crosses."""

from __future__ import annotations

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
