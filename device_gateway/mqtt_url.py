"""Broker URLs: `mqtt://user:pass@host:port` and `mqtts://…` (TLS) into their parts."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from urllib.parse import unquote, urlsplit

MQTT_PORT = 1883
MQTTS_PORT = 8883
_TLS_SCHEMES = {"mqtts": True, "ssl": True, "mqtt": False, "tcp": False}


@dataclass(frozen=True, slots=True)
class MqttAddress:
    """Where and as whom to connect; the password stays out of repr() and logs."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def with_credentials(self, username: str | None, password: str | None) -> MqttAddress:
        """This address with `username` / `password` replacing the URL's where given."""
        return replace(
            self,
            username=username if username is not None else self.username,
            password=password if password is not None else self.password,
        )

    def __str__(self) -> str:
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


def parse_mqtt_url(url: str) -> MqttAddress:
    """Split a broker URL; `mqtt`/`tcp` are plain TCP, `mqtts`/`ssl` are TLS.

    Raises:
        ValueError: the scheme is not one of those, or the host or port is missing or bad.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _TLS_SCHEMES:
        raise ValueError(f"MQTT URL must start with mqtt:// or mqtts://, got {parts.scheme!r}")
    tls = _TLS_SCHEMES[scheme]
    try:
        port = parts.port  # raises ValueError for a port that is not a number or out of range
    except ValueError as exc:
        raise ValueError(f"MQTT URL has a bad port: {exc}") from exc
    if not parts.hostname:
        raise ValueError("MQTT URL has no host")
    return MqttAddress(
        host=parts.hostname,
        port=port if port is not None else (MQTTS_PORT if tls else MQTT_PORT),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )
