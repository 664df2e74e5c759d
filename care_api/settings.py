"""Settings of the whole service, read once from VNH_* environment variables."""

from __future__ import annotations

from typing import Annotated

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# 1884, not 1883: the embedded broker must not fight a system Mosquitto for the standard port.
EMBEDDED_MQTT_PORT = 1884


class Settings(BaseSettings):
    """Every knob of the service; `VNH_` + the field name in upper case sets it."""

    model_config = SettingsConfigDict(env_prefix="VNH_", extra="ignore")

    database_url: str = "sqlite:///vnh.db"
    mqtt_url: str | None = None  # None: run the embedded broker
    embedded_mqtt_host: str = "127.0.0.1"
    embedded_mqtt_port: int = EMBEDDED_MQTT_PORT
    mqtt_client_id: str = "vnh-gateway"
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    serial_ports: Annotated[list[str], NoDecode] = []
    admin_token: SecretStr | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from: str | None = None
    # Only for tests and Twilio-compatible gateways; the real API is the default.
    twilio_api_url: str | None = None
    public_url: str | None = None  # how Twilio reaches our webhooks, e.g. https://vnh.example.org
    supervisor_phone: str | None = None  # the last rung of the emergency ladder
    merchant_red_card_days: int = 30  # a red card (停单) stops new orders this long
    timezone: str = "Asia/Shanghai"  # the centre's local day numbers cases and working days
    timer_sweep_interval_s: float = 1.0
    gateway_workers: int = 1

    @field_validator("serial_ports", mode="before")
    @classmethod
    def _split_ports(cls, value: object) -> object:
        if isinstance(value, str):
            return [p.strip() for p in value.split(",") if p.strip()]
        return value

    @property
    def twilio_configured(self) -> bool:
        """True when every Twilio setting needed to send is present."""
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from)

    @property
    def effective_mqtt_url(self) -> str:
        """The broker URL the gateway connects to: the configured one or the embedded one."""
        if self.mqtt_url:
            return self.mqtt_url
        return f"mqtt://{self.embedded_mqtt_host}:{self.embedded_mqtt_port}"
