"""The gateway's own broker login, and the rules the embedded broker checks every login by."""

from __future__ import annotations

import secrets
from functools import partial

from care_api.services import Services
from care_api.settings import Settings
from care_api.throttle import Gate
from care_api.usecases.fleet.broker_login import verify_device
from device_gateway.mqtt_url import MqttAddress, parse_mqtt_url
from device_gateway.transports.broker_access import BrokerAccess

GATEWAY_PASSWORD_BYTES = 24


def embedded_access(settings: Settings, services: Services) -> BrokerAccess:
    """The embedded broker's rules: terminals checked against the store, the gateway's login.

    The gateway's password is VNH_MQTT_PASSWORD, or else a new random one per start that
    only this process knows (and never logs).
    """
    password = (
        settings.mqtt_password.get_secret_value()
        if settings.mqtt_password is not None
        else secrets.token_urlsafe(GATEWAY_PASSWORD_BYTES)
    )
    return BrokerAccess(
        gateway_username=settings.mqtt_username,
        gateway_password=password,
        verify_device=partial(verify_device, services.uow),
        throttle=services.auth[Gate.MQTT],
        clock=services.clock,
    )


def gateway_address(settings: Settings, access: BrokerAccess | None = None) -> MqttAddress:
    """Where the gateway connects, and as whom: the embedded broker's login when given."""
    address = parse_mqtt_url(settings.effective_mqtt_url)
    if access is not None:
        return address.with_credentials(access.gateway_username, access.gateway_password)
    password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
    # A user:pass in VNH_MQTT_URL wins over the default username, not over one set on purpose.
    chosen = "mqtt_username" in settings.model_fields_set or address.username is None
    return address.with_credentials(settings.mqtt_username if chosen else None, password)
