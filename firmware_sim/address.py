"""Where the broker is: `mqtt://host:port` and `mqtts://` URLs."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

MQTT_PORT = 1883
MQTTS_PORT = 8883
_PLAIN_SCHEMES = frozenset({"mqtt", "tcp"})
_TLS_SCHEMES = frozenset({"mqtts", "ssl", "tls"})


@dataclass(frozen=True)
class BrokerAddress:
    """Host, port and TLS flag of an MQTT broker; user:pass is kept but terminals ignore it."""

    host: str
    port: int = MQTT_PORT
    tls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> BrokerAddress:
        """Parse `mqtt://[user:pass@]host[:port]` or `mqtts://...` (default ports 1883 / 8883)."""
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in _PLAIN_SCHEMES | _TLS_SCHEMES:
            raise ValueError(f"unsupported MQTT URL scheme {parts.scheme!r} in {url!r}")
        if not parts.hostname:
            raise ValueError(f"no host in MQTT URL {url!r}")
        tls = scheme in _TLS_SCHEMES
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"bad port in MQTT URL {url!r}") from exc
        return cls(
            host=parts.hostname,
            port=port or (MQTTS_PORT if tls else MQTT_PORT),
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    @property
    def url(self) -> str:
        """The address as a URL without credentials."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'mqtts' if self.tls else 'mqtt'}://{host}:{self.port}"
