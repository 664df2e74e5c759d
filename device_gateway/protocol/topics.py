"""MQTT topic names of PROTOCOL.md: the only place they are built or parsed."""

from __future__ import annotations

from device_gateway.protocol.checks import DEVICE_ID_RULE, is_device_id

TOPIC_PREFIX = "vnh/v1/dev"
UP_LEAF = "up"
DOWN_LEAF = "down"
STATUS_LEAF = "status"
LEAVES = frozenset({UP_LEAF, DOWN_LEAF, STATUS_LEAF})
UP_FILTER = f"{TOPIC_PREFIX}/+/{UP_LEAF}"
STATUS_FILTER = f"{TOPIC_PREFIX}/+/{STATUS_LEAF}"
SHARE_PREFIX = "$share"

_PREFIX_SLASH = TOPIC_PREFIX + "/"


def _topic(device_id: str, leaf: str) -> str:
    # A device id holding "/", "+" or "#" would address other devices' topics.
    if not is_device_id(device_id):
        raise ValueError(f"device_id must be {DEVICE_ID_RULE}, got {device_id!r}")
    return f"{_PREFIX_SLASH}{device_id}/{leaf}"


def up_topic(device_id: str) -> str:
    """`vnh/v1/dev/{device_id}/up`: where the terminal publishes its events."""
    return _topic(device_id, UP_LEAF)


def down_topic(device_id: str) -> str:
    """`vnh/v1/dev/{device_id}/down`: acks, case news and commands for the terminal."""
    return _topic(device_id, DOWN_LEAF)


def status_topic(device_id: str) -> str:
    """`vnh/v1/dev/{device_id}/status`: retained `online` / `offline` (last will)."""
    return _topic(device_id, STATUS_LEAF)


def shared_filter(group: str, topic_filter: str) -> str:
    """`$share/{group}/{topic_filter}`: an MQTT 5 shared subscription splitting the load."""
    if not group or any(char in group for char in "/+#"):
        raise ValueError(f"share group must be non-empty without '/', '+' or '#', got {group!r}")
    if not topic_filter or topic_filter.startswith(SHARE_PREFIX + "/"):
        raise ValueError(f"topic filter must be a plain, non-empty filter, got {topic_filter!r}")
    return f"{SHARE_PREFIX}/{group}/{topic_filter}"


def parse_topic(topic: str) -> tuple[str, str] | None:
    """`(device_id, leaf)` of one of our device topics; None for any other topic."""
    if not topic.startswith(_PREFIX_SLASH):
        return None
    device_id, sep, leaf = topic[len(_PREFIX_SLASH) :].partition("/")
    if not sep or leaf not in LEAVES or not is_device_id(device_id):
        return None
    return device_id, leaf
