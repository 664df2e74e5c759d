import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_gateway.protocol.topics import (
    STATUS_FILTER,
    TOPIC_PREFIX,
    UP_FILTER,
    down_topic,
    parse_topic,
    shared_filter,
    status_topic,
    up_topic,
)
from tests.unit.protocol.wire_strategies import device_ids


def test_topics_are_the_protocol_names() -> None:
    assert TOPIC_PREFIX == "vnh/v1/dev"
    assert up_topic("T1001") == "vnh/v1/dev/T1001/up"
    assert down_topic("T1001") == "vnh/v1/dev/T1001/down"
    assert status_topic("T1001") == "vnh/v1/dev/T1001/status"
    assert UP_FILTER == "vnh/v1/dev/+/up"
    assert STATUS_FILTER == "vnh/v1/dev/+/status"


def test_topics_shared_filter_for_gateway_workers() -> None:
    assert shared_filter("vnh-gw", UP_FILTER) == "$share/vnh-gw/vnh/v1/dev/+/up"


@pytest.mark.parametrize(
    ("group", "topic_filter"),
    [("", UP_FILTER), ("a/b", UP_FILTER), ("a+", UP_FILTER), ("#", UP_FILTER), ("gw", "")],
)
def test_topics_shared_filter_refuses_bad_groups(group: str, topic_filter: str) -> None:
    with pytest.raises(ValueError, match="must be"):
        shared_filter(group, topic_filter)


def test_topics_shared_filter_refuses_to_share_twice() -> None:
    with pytest.raises(ValueError, match="plain"):
        shared_filter("gw", shared_filter("gw", UP_FILTER))


@pytest.mark.parametrize("device_id", ["", "+", "#", "T/1", "T 1", "x" * 65, "Tä"])
def test_topics_builders_refuse_ids_that_would_escape_the_device_tree(device_id: str) -> None:
    for build in (up_topic, down_topic, status_topic):
        with pytest.raises(ValueError, match="device_id must be"):
            build(device_id)


@pytest.mark.parametrize(
    ("topic", "parsed"),
    [
        ("vnh/v1/dev/T1001/up", ("T1001", "up")),
        ("vnh/v1/dev/T1001/down", ("T1001", "down")),
        ("vnh/v1/dev/T1001/status", ("T1001", "status")),
        ("vnh/v1/dev/" + "a" * 64 + "/up", ("a" * 64, "up")),
        ("vnh/v1/dev/" + "a" * 65 + "/up", None),
        ("vnh/v1/dev/T1001/up/extra", None),
        ("vnh/v1/dev/T1001/other", None),
        ("vnh/v1/dev/T1001", None),
        ("vnh/v1/dev//up", None),
        ("vnh/v1/dev/+/up", None),
        ("vnh/v2/dev/T1001/up", None),
        ("/vnh/v1/dev/T1001/up", None),
        ("$share/gw/vnh/v1/dev/T1001/up", None),
        ("vnh/v1/devices/T1001/up", None),
        ("", None),
    ],
)
def test_topics_parse_only_our_device_topics(topic: str, parsed: tuple[str, str] | None) -> None:
    assert parse_topic(topic) == parsed


@given(device_ids)
def test_topics_parse_what_they_build(device_id: str) -> None:
    assert parse_topic(up_topic(device_id)) == (device_id, "up")
    assert parse_topic(down_topic(device_id)) == (device_id, "down")
    assert parse_topic(status_topic(device_id)) == (device_id, "status")


@given(st.text(max_size=100))
def test_topics_parse_arbitrary_text_without_raising(topic: str) -> None:
    parsed = parse_topic(topic)
    if parsed is not None:
        device_id, leaf = parsed
        assert topic == f"vnh/v1/dev/{device_id}/{leaf}"
