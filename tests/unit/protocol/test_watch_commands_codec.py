"""Watch commands and health frames on the wire, as the makers' documents write them."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from care_api.domain.errors import InvalidInput
from care_api.domain.fleet import DevicePosition, PositionSource
from care_api.domain.watch_commands import (
    Call,
    Find,
    Locate,
    Monitor,
    PowerOff,
    SosNumbers,
    Upload,
    WatchCommand,
    watch_command,
)
from care_api.domain.zones import is_outside
from device_gateway.protocol.watch_codec import (
    HealthValues,
    WatchFrame,
    WatchFrameError,
    command_content,
    decode_health,
    decode_position,
    reply_to,
)


@pytest.mark.parametrize(
    ("command", "content"),
    [
        (Locate(), "CR"),
        (Find(), "FIND"),
        (PowerOff(), "POWEROFF"),
        (Upload(300), "UPLOAD,300"),
        (Call("+8613800138000"), "CALL,13800138000"),
        (Monitor("+8657912345678"), "MONITOR,057912345678"),
        (SosNumbers(("+8613800138000",)), "SOS,13800138000,,"),
        (
            SosNumbers(("+8613800138000", "+12025550123", "+8613900000001")),
            "SOS,13800138000,0012025550123,13900000001",
        ),
    ],
)
def test_watch_command_contents(command: WatchCommand, content: str) -> None:
    assert command_content(command) == content


@pytest.mark.parametrize(
    ("cmd", "params", "command"),
    [
        ("locate", {}, Locate()),
        ("ring", {"say": "ignored by a watch"}, Find()),
        ("upload", {"seconds": 600}, Upload(600)),
        ("call", {"number": "138 0013 8000"}, Call("+8613800138000")),
        ("sos_numbers", {"numbers": ["13800138000"]}, SosNumbers(("+8613800138000",))),
    ],
)
def test_watch_command_from_api_name_and_params(
    cmd: str, params: dict[str, object], command: WatchCommand
) -> None:
    assert watch_command(cmd, params) == command


@pytest.mark.parametrize(
    ("cmd", "params"),
    [
        ("ping", {}),
        ("config", {"heartbeat_s": 60}),
        ("upload", {"seconds": True}),
        ("upload", {"seconds": 86_401}),
        ("call", {"number": "12"}),
        ("sos_numbers", {"numbers": []}),
    ],
)
def test_watch_command_refuses_what_a_watch_cannot_do(cmd: str, params: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        watch_command(cmd, params)


def _health(content: str) -> WatchFrame:
    keyword, _, rest = content.partition(",")
    return WatchFrame("3G", "8800000015", None, keyword, tuple(rest.split(",")) if rest else ())


@pytest.mark.parametrize(
    ("content", "values"),
    [
        ("heart,78", HealthValues(heart_rate=78)),
        ("PULSE,64", HealthValues(heart_rate=64)),
        ("bphrt,128,82,75,,,,", HealthValues(heart_rate=75, systolic=128, diastolic=82)),
        ("BLOOD,118,76", HealthValues(systolic=118, diastolic=76)),
        ("btemp2,1,36.6", HealthValues(temperature_c=36.6)),
        ("btemp2,37.2", HealthValues(temperature_c=37.2)),
        ("bphrt,300,82,75", HealthValues(heart_rate=75, diastolic=82)),  # sensor error dropped
    ],
)
def test_health_frames(content: str, values: HealthValues) -> None:
    frame = _health(content)
    assert decode_health(frame) == values
    assert reply_to(frame) is not None  # answered with its keyword


@pytest.mark.parametrize("content", ["heart", "heart,0", "heart,abc", "btemp2,1,99.0", "LK,1,2"])
def test_health_frames_without_a_plausible_value_are_frame_errors(content: str) -> None:
    with pytest.raises(WatchFrameError):
        decode_health(_health(content))


@given(
    st.sampled_from(["heart", "bphrt", "btemp2", "PULSE", "BLOOD"]),
    st.lists(st.text(max_size=12), max_size=8),
)
def test_health_decoding_never_raises_anything_else(keyword: str, fields: list[str]) -> None:
    with contextlib.suppress(WatchFrameError):
        decode_health(WatchFrame("3G", "1", None, keyword, tuple(fields)))


HOME = (29.079, 119.647)


def _at(lat: float, source: PositionSource, fix: bool = True) -> DevicePosition:
    return DevicePosition(datetime(2026, 1, 1, tzinfo=UTC), lat, HOME[1], fix, source)


def test_zone_outside_by_gps_inside_by_margin_for_wifi_unknown_for_cells() -> None:
    away = HOME[0] + 0.0054  # about 600 m north
    assert is_outside(*HOME, 500, _at(away, PositionSource.GPS)) is True
    assert is_outside(*HOME, 500, _at(HOME[0], PositionSource.GPS)) is False
    assert is_outside(*HOME, 550, _at(away, PositionSource.WIFI, fix=False)) is False
    assert is_outside(*HOME, 500, _at(away + 0.01, PositionSource.WIFI, fix=False)) is True
    assert is_outside(*HOME, 500, _at(away + 0.1, PositionSource.CELL, fix=False)) is None


@given(st.lists(st.text(max_size=12), min_size=16, max_size=40))
def test_position_decoding_never_raises_anything_else(fields: list[str]) -> None:
    with contextlib.suppress(WatchFrameError):
        decode_position(WatchFrame("3G", "1", None, "UD", tuple(fields)))
