"""Serial test helpers: the test as a hub on a real pty, reply lines, a gateway on a port."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from care_api.services import Services
from care_api.store.tables import Case
from device_gateway.downlink import DownlinkRouter
from device_gateway.pipeline import Pipeline
from device_gateway.transports.serial import SerialTransport
from firmware_sim import wire
from firmware_sim.serial_line import PtyLine

WAIT_S = 10.0  # generous: the suite must pass on a loaded 2-core machine
CASE_1 = "C-20261122-0001"
FAST_RETRY_S = 0.05  # instead of 1 s doubling to 30 s (in tests)


class HubEnd:
    """The test playing a hub by hand, on the master side of a real pty pair."""

    def __init__(self, link: Path | None = None) -> None:
        self.line = PtyLine(link)
        self._buffer = bytearray()

    @property
    def path(self) -> str:
        """What the gateway opens: the link if there is one, else the slave's path."""
        return self.line.name

    def send(self, data: bytes) -> None:
        assert self.line.write(data)

    def reply(self) -> bytes:
        """The next line the gateway wrote, without its CR LF."""
        deadline = time.monotonic() + WAIT_S
        while b"\n" not in self._buffer:
            assert time.monotonic() < deadline, f"no reply; got {bytes(self._buffer)!r}"
            self._buffer += self.line.read()
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        return line.rstrip(b"\r")

    def close(self) -> None:
        self.line.close()


def press_line(device_id: str = "T1001", seq: int = 42, boot: int = 7, **fields: object) -> bytes:
    return wire.encode_line(device_id, boot, seq, "press", {"pattern": "long", **fields})


def ack_line(device_id: str, seq: int, status: str, boot: int = 7, **fields: object) -> bytes:
    """The `$ACK` PROTOCOL.md expects, built by firmware_sim's own encoder."""
    return wire.encode_reply("ACK", device_id, boot, seq, status, fields).rstrip()


def nak_line(
    reason: str, device_id: str | None = None, boot: int | None = None, seq: int | None = None
) -> bytes:
    return wire.encode_reply("NAK", device_id, boot, seq, reason).rstrip()


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT_S) -> bool:
    """Poll a condition (a database row, a health figure) until it holds; no fixed sleeps."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def cases(services: Services) -> list[Case]:
    with services.uow() as uow:
        return list(uow.session.exec(select(Case)).all())


@pytest.fixture
def start_serial(services: Services) -> Iterator[Callable[[str], SerialTransport]]:
    """Start a pipeline and a SerialTransport (fast retries) on a port; stopped afterwards."""
    started: list[tuple[Pipeline, SerialTransport]] = []

    def start(port: str) -> SerialTransport:
        transport = SerialTransport(port, retry_first_s=FAST_RETRY_S, retry_max_s=FAST_RETRY_S)
        pipeline = Pipeline(services, DownlinkRouter(transport))
        pipeline.start()
        transport.start(pipeline.offer)
        started.append((pipeline, transport))
        return transport

    yield start
    for pipeline, transport in started:
        pipeline.stop()
        transport.close()
