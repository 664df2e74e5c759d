"""Small builders shared by tests: an elder with contacts and a provisioned terminal."""

from __future__ import annotations

from datetime import datetime

from alerts.notify.outbox import OutboxNotifier
from alerts.ports import Channel
from alerts.runtime import AlertsComponent
from care_api.domain.model import DeviceReport, EventKey, ReportType, Role
from care_api.services import Services
from care_api.usecases.people.registry import add_contact, create_elder, provision_device
from care_api.usecases.people.tokens import mint_token
from care_api.usecases.schedules.checkins import add_window


def seed_elder(
    services: Services,
    device_id: str = "T1001",
    *,
    contacts: int = 2,
    hub_port: str | None = None,
    **elder: object,
) -> tuple[int, str]:
    """Create an elder with contacts and a terminal; returns (elder_id, device secret).

    `hub_port`: the serial line the terminal is provisioned behind (none: MQTT only).
    """
    now = services.clock.now()
    with services.uow() as uow:
        data = {"name": "Wang Fang", "phone": "+8613800000000", "address": "12 Bamboo Lane"}
        row = create_elder(uow.session, {**data, **elder}, now)
        assert row.id is not None
        for i in range(contacts):
            add_contact(
                uow.session,
                row.id,
                {"name": f"Contact {i + 1}", "phone": f"+86139000000{i:02d}", "priority": i + 1},
            )
        _, secret = provision_device(uow.session, device_id, row.id, now, hub_port)
        uow.commit()
        return row.id, secret


def press(
    device_id: str = "T1001", boot: int = 7, seq: int = 42, pattern: str = "long", **more: object
) -> DeviceReport:
    return DeviceReport(
        EventKey(device_id, boot, seq),
        ReportType.PRESS,
        {"button": "main", "pattern": pattern, **more},
    )


def add_morning_check_in(services: Services, elder_id: int, now: datetime) -> None:
    """Give the elder a daily 08:00–10:00 check-in window (holidays off)."""
    with services.uow() as uow:
        add_window(
            uow.session,
            elder_id,
            start="08:00",
            end="10:00",
            holidays_off=True,
            by="t",
            now=now,
            tz=services.tz,
        )
        uow.commit()


def operator_header(services: Services, name: str = "Operator on duty") -> dict[str, str]:
    """An operator's bearer token, minted straight in the store, as a request header."""
    with services.uow() as uow:
        _, token = mint_token(uow.session, role=Role.OPERATOR, name=name, now=services.clock.now())
        uow.commit()
    return {"Authorization": f"Bearer {token}"}


def outbox_alerts(services: Services) -> AlertsComponent:
    """The alerts engine attached to `services`, every SMS and call kept in one outbox.

    The tests read the notification rows, not a provider's; the caller stops it.
    """
    outbox = OutboxNotifier()
    component = AlertsComponent(
        services.settings, services, notifiers={Channel.sms: outbox, Channel.voice: outbox}
    )
    component.attach()
    return component
