"""Ports of the gateway: what a transport offers the pipeline, and what it hands in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from care_api.domain.fleet import DevicePosition
    from device_gateway.protocol.model import Ack, CaseNews, Command, WireEvent
    from device_gateway.protocol.watch_codec import HealthValues


class Downlink(Protocol):
    """Sends replies and news to one terminal; non-blocking, safe from any thread."""

    def send_ack(self, device_id: str, ack: Ack, *, urgent: bool = False) -> None:
        """Answer an event; `urgent` (a press, a fall): ahead of what still waits to go."""
        ...

    def send_news(self, device_id: str, news: CaseNews) -> None: ...

    def send_command(self, device_id: str, command: Command) -> None: ...


class Transport(Downlink, Protocol):
    """A way terminals reach the gateway (MQTT broker, serial hub), and the way back."""

    @property
    def source(self) -> str:
        """What intake records as the report's source: "mqtt", "serial:/dev/ttyUSB0"."""
        ...

    def decode(self, item: Inbound, now: datetime) -> Decoded | None:
        """What `item` asks of intake (pipeline worker thread).

        None when there is nothing for intake: the transport has answered the message
        itself (a refusal in its own protocol: `$NAK`, DC-09 NAK/DUH, a rejecting ack) or
        it needs no answer (an echo, an unknown topic), and settled it.
        """
        ...

    def answer(self, item: Inbound, *, refused: str | None) -> None:
        """Answer a message that recorded no event: taken, or refused naming why."""
        ...

    def urgent(self, item: Inbound) -> bool:
        """True when a person waits on `item` (a press, fall, SOS, cancel), at a glance.

        Called on the transport's own thread before the item is queued: no full parse.
        Technical reports (power, battery, heartbeats) are False, so a storm of them
        waits behind presses; what the glance cannot read is True.
        """
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


@dataclass(frozen=True, slots=True)
class Reading:
    """A health measurement a terminal sent (a watch's heart rate, blood pressure …)."""

    keyword: str
    values: HealthValues


@dataclass(frozen=True, slots=True)
class CommandAnswer:
    """A terminal's answer to a command: it settles the oldest waiting one of `commands`."""

    commands: frozenset[str]
    detail: str


@dataclass(frozen=True, slots=True)
class Decoded:
    """What one inbound message asks of intake, whichever transport brought it.

    `event` is recorded and answered with `send_ack`; a message with no event (a link
    frame, a panel's event the service does not act on) is only checked against the
    device's right to report and answered with `answer`. A `position` is kept before the
    event is looked at, so whoever opens the case sees where the elder is. `online` is a
    presence flag (nothing else is done with such a message). `fall_window_s` 0: the
    terminal counted its own cancel window before raising the fall. `left_fence` and
    `taken_off_at` are what the terminal says of its wearer with the position (a watch's
    alarm bits). A `reading` is kept on the elder's record and an `answer` settles a
    command; neither opens anything.
    """

    device_id: str
    event: WireEvent | None = None
    position: DevicePosition | None = None
    online: bool | None = None
    fall_window_s: int | None = None
    left_fence: bool = False
    taken_off_at: datetime | None = None
    # A position whose status word lacks the taken-off bit: the watch is on the wrist again.
    worn: bool = False
    reading: Reading | None = None
    answer: CommandAnswer | None = None

    @property
    def says_where(self) -> bool:
        """True when the message says where the terminal is or what its wearer did."""
        return self.position is not None or self.left_fence or self.taken_off_at is not None


# Returns False when the message could not be taken (inbox full): the transport then
# leaves it unsettled so that it comes again.
InboundHandler = Callable[[Inbound], bool]
