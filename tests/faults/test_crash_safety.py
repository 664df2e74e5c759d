"""Nothing lost, nothing doubled: presses from 50 terminals while service, broker or DB fail.

Real processes throughout: `vnh serve` as a child process, Mosquitto with persistence, the
simulated fleet of firmware_sim resending until the application ack, SQLite or PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from firmware_sim.provision import provision
from tests.databases import database_url
from tests.faults.support import (
    BROKER_TUNING,
    PressStream,
    ServeProcess,
    check_every_press_once,
    make_fleet,
)
from tests.faults.tcp_proxy import TcpProxy
from tests.mosquitto import MosquittoServer, run_mosquitto

pytestmark = pytest.mark.slow

TERMINALS = 50
RATE_PER_S = 25.0
ACK_WAIT_S = 40.0
WAIT_S = 30.0


def wait_until(predicate: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)  # polling a condition, not waiting for time to pass


def presses_made(stream: PressStream, more: int) -> Callable[[], bool]:
    target = len(stream.events) + more
    return lambda: len(stream.events) >= target


@contextmanager
def broker(tmp_path: Path) -> Iterator[MosquittoServer]:
    with run_mosquitto(tmp_path, BROKER_TUNING, persistence=True) as server:
        yield server


@pytest.mark.parametrize(
    "db", ["sqlite", pytest.param("postgres", marks=pytest.mark.external_service)]
)
def test_service_killed_mid_stream_acks_every_press_once(db: str, tmp_path: Path) -> None:
    with (
        database_url(db, tmp_path) as url,
        broker(tmp_path) as mqtt,
        ServeProcess(tmp_path, VNH_DATABASE_URL=url, VNH_MQTT_URL=mqtt.url) as serve,
    ):
        serve.start()
        credentials = provision(serve.api_url, serve.token, TERMINALS, "K")
        with make_fleet(mqtt.url, credentials) as fleet:
            fleet.start(WAIT_S)
            with PressStream(fleet, RATE_PER_S) as stream:
                wait_until(presses_made(stream, 60))
                serve.kill()  # mid-stream: some presses committed and not acked, some not read
                wait_until(presses_made(stream, 40))  # these wait in the gateway's session
                serve.start()
                wait_until(presses_made(stream, 60))
            stream.wait_acked(ACK_WAIT_S)
        assert serve.starts == 2
        check_every_press_once(url, stream.events)


@pytest.mark.parametrize("kill", [False, True], ids=["terminated", "killed"])
def test_broker_restarted_mid_stream_acks_every_press_once(kill: bool, tmp_path: Path) -> None:
    # Terminated, Mosquitto saves the gateway's session and its queued presses; killed, it
    # forgets whatever came after its last autosave (1800 s by default), so those presses
    # reach the service only because terminals resend until the application ack.
    url = f"sqlite:///{tmp_path / 'vnh.db'}"
    with (
        broker(tmp_path) as mqtt,
        ServeProcess(tmp_path, VNH_DATABASE_URL=url, VNH_MQTT_URL=mqtt.url) as serve,
    ):
        serve.start()
        credentials = provision(serve.api_url, serve.token, TERMINALS, "B")
        with make_fleet(mqtt.url, credentials) as fleet:
            fleet.start(WAIT_S)
            with PressStream(fleet, RATE_PER_S) as stream:
                wait_until(presses_made(stream, 60))
                mqtt.restart(kill=kill)
                wait_until(lambda: fleet.stats().ready == TERMINALS)
                wait_until(presses_made(stream, 60))
            stream.wait_acked(ACK_WAIT_S)
        check_every_press_once(url, stream.events)
        assert "mqtt connected" in serve.log_text().split("connection to", 1)[-1]


@pytest.mark.external_service
def test_database_away_for_seconds_presses_wait_and_are_acked_after_commit(
    tmp_path: Path,
) -> None:
    with database_url("postgres", tmp_path) as url:
        parts = urlsplit(url)
        assert parts.hostname is not None and parts.port is not None
        with TcpProxy(parts.hostname, parts.port) as proxy, broker(tmp_path) as mqtt:
            proxied = url.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{proxy.port}")
            with ServeProcess(tmp_path, VNH_DATABASE_URL=proxied, VNH_MQTT_URL=mqtt.url) as serve:
                serve.start()
                credentials = provision(serve.api_url, serve.token, TERMINALS, "D")
                with make_fleet(mqtt.url, credentials) as fleet:
                    fleet.start(WAIT_S)
                    with PressStream(fleet, RATE_PER_S) as stream:
                        wait_until(presses_made(stream, 50))
                        proxy.cut()
                        cut_at = time.monotonic()
                        during = len(stream.events)
                        wait_until(presses_made(stream, 75))  # three seconds without a database
                        sent_while_down = stream.events[during:]
                        restored_at = time.monotonic()
                        proxy.restore()
                        wait_until(presses_made(stream, 50))
                    stream.wait_acked(ACK_WAIT_S)
            assert "database unavailable" in serve.log_text()
        # Nothing sent while the database was away was acked before it came back.
        early = [e for e in sent_while_down if (e.acked_at or restored_at) < restored_at]
        assert not early, early[:3]
        assert restored_at - cut_at >= 2.0
        check_every_press_once(url, stream.events)
