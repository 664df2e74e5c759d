"""The channels a message can take, declared once: what address each needs and its medium.

Adding a channel: a member here with its `ChannelSpec`, then one notifier adapter file in
`alerts/notify/` registered in `alerts/notify/registry.py` (a test and `vnh serve` refuse a
channel without one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum


class Channel(StrEnum):
    """How a message reaches a person or a desk."""

    sms = "sms"
    voice = "voice"
    wechat = "wechat"  # a WeChat official-account template message
    console = "console"  # the operators' or technicians' console: delivered by being written


class AddressKind(StrEnum):
    """What a person is reached at."""

    phone = "phone"  # E.164, on the person's own row
    wechat_openid = "wechat_openid"  # bound through a one-time code (person_address)


class Medium(StrEnum):
    """What a message does to its reader: a person gets one message per medium and target."""

    text = "text"  # read and answered by a reply: SMS, WeChat
    call = "call"  # rings and speaks
    desk = "desk"  # a console line


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """What a channel needs: the address it is sent to (None: a desk), its medium, fallback.

    `fallback`: when a message on this channel fails, the same text goes to the person on
    this channel instead (WeChat falls back to SMS).
    """

    address: AddressKind | None
    medium: Medium
    fallback: Channel | None = None


CHANNELS: Mapping[Channel, ChannelSpec] = {
    Channel.sms: ChannelSpec(AddressKind.phone, Medium.text),
    Channel.voice: ChannelSpec(AddressKind.phone, Medium.call),
    Channel.wechat: ChannelSpec(AddressKind.wechat_openid, Medium.text, fallback=Channel.sms),
    Channel.console: ChannelSpec(None, Medium.desk),
}
# Channels a notifier sends on (rows wait for the sender); the rest are desks.
PERSON_CHANNELS: tuple[str, ...] = tuple(c.value for c, s in CHANNELS.items() if s.address)
PHONE_CHANNELS: tuple[str, ...] = tuple(
    c.value for c, s in CHANNELS.items() if s.address is AddressKind.phone
)
DESK_CHANNELS: tuple[str, ...] = tuple(c.value for c, s in CHANNELS.items() if not s.address)


def is_person_channel(channel: str) -> bool:
    """True for a channel a notifier must send on; False for a desk (console)."""
    return channel in PERSON_CHANNELS


def reach(
    named: Sequence[str], addresses: Mapping[str, str], preferred: str | None = None
) -> list[tuple[str, str]]:
    """The (channel, address) pairs a person is reached on, of those a ladder step names.

    Only channels the person has an address for; one per medium (a person gets one text
    message, SMS or WeChat, not both): the preferred channel where set, else the first the
    step names. The preferred channel goes first.
    """
    usable = [c for c in named if c in PERSON_CHANNELS]
    if preferred in usable:
        usable.remove(preferred)
        usable.insert(0, preferred)
    chosen: list[tuple[str, str]] = []
    media: set[Medium] = set()
    for name in usable:
        spec = CHANNELS[Channel(name)]
        address = addresses.get(spec.address.value) if spec.address else None
        if not address or spec.medium in media:
            continue
        media.add(spec.medium)
        chosen.append((name, address))
    return chosen
