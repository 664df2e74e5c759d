"""Ports of the gateway: what a transport offers the pipeline, and what it hands in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from device_gateway.protocol.model import Ack, CaseNews, Command


class Downlink(Protocol):
    """Sends replies and news to one terminal; non-blocking, safe from any thread."""

    def send_ack(self, device_id: str, ack: Ack) -> None: ...

    def send_news(self, device_id: str, news: CaseNews) -> None: ...

    def send_command(self, device_id: str, command: Command) -> None: ...


class Transport(Downlink, Protocol):
    """A way terminals reach the gateway (MQTT broker, serial hub), and the way back."""

    @property
    def source(self) -> str:
        """What intake records as the report's source: "mqtt", "serial:/dev/ttyUSB0"."""
        ...

    def start(self, handler: InboundHandler) -> None:
        """Begin delivering inbound messages to `handler` (from the transport's own thread)."""
        ...

    def settle(self, receipt: object) -> None:
        """Tell the transport `receipt`'s message is done with (MQTT: send the PUBACK)."""
        ...

    def close(self) -> None:
        """Stop delivering and release the connection; bounded in time."""
        ...


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message as a transport received it, not yet parsed.

    `receipt` is opaque to everyone but `transport`, which settles it once the message is
    committed (or deliberately dropped). `retained` marks a broker's replay of a retained
    message, which says nothing about when the device was last heard from.
    """

    topic: str
    payload: bytes
    receipt: object
    transport: Transport
    retained: bool = False


# Returns False when the message could not be taken (inbox full): the transport then
# leaves it unsettled so that it comes again.
InboundHandler = Callable[[Inbound], bool]
