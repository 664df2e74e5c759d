"""Which terminal may report, and what every accepted report says about the terminal."""

from __future__ import annotations

from datetime import datetime

from care_api.domain.model import NOT_BEHIND_HUB, DeviceReport, ReportType
from care_api.store.tables import Device

SERIAL_PREFIX = "serial:"


def refusal(status: str, elder_id: int | None, hub_port: str | None, source: str) -> str | None:
    """Why a provisioned terminal's report is rejected, or None when it is taken.

    A serial hub speaks only for the terminals provisioned behind it (their `hub_port` is
    its port): a terminal with no hub, or behind another, is not its to report for.
    """
    if status == "retired":
        return "device retired"
    if elder_id is None:
        return "device not bound to an elder"
    if source.startswith(SERIAL_PREFIX) and hub_port != source[len(SERIAL_PREFIX) :]:
        return NOT_BEHIND_HUB
    return None


def int_or(value: object, default: int | None) -> int | None:
    """`value` if it is an int (not a bool), else `default`."""
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def touch_device(device: Device, report: DeviceReport, now: datetime) -> None:
    """The terminal was just heard from: last seen, online, and what the report tells."""
    f = report.fields
    device.last_seen_at = now
    device.online = True
    if report.type is ReportType.HEARTBEAT:
        device.battery = int_or(f.get("battery"), device.battery)
        device.rssi = int_or(f.get("rssi"), device.rssi)
    if report.type is ReportType.BATTERY:
        device.battery = int_or(f.get("level"), device.battery)
    if report.type in (ReportType.HEARTBEAT, ReportType.BOOT) and isinstance(f.get("fw"), str):
        device.fw = str(f["fw"])
    if report.type is ReportType.BOOT:
        device.last_boot = report.key.boot
