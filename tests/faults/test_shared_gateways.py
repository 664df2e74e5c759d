"""Three gateway processes share the terminals through an MQTT 5 shared subscription."""

from __future__ import annotations

import re
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from care_api.settings import Settings
from firmware_sim.provision import provision
from tests.databases import database_url
from tests.faults.support import (
    BROKER_TUNING,
    PressStream,
    ServeProcess,
    check_every_press_once,
    make_fleet,
)
from tests.mosquitto import run_mosquitto

TERMINALS = 50
RATE_PER_S = 30.0
WAIT_S = 30.0
PRESS_LINE = re.compile(r"press (?:accepted|duplicate) device=(\S+) boot=(\d+) seq=(\d+)")


def wait_until(predicate: object, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)  # polling a condition


def handled(serve: ServeProcess) -> set[tuple[str, int, int]]:
    return {(d, int(b), int(s)) for d, b, s in PRESS_LINE.findall(serve.log_text())}


@pytest.mark.slow
@pytest.mark.external_service
def test_three_shared_gateways_one_killed_every_press_acked_once(tmp_path: Path) -> None:
    with (
        database_url("postgres", tmp_path) as url,
        run_mosquitto(tmp_path, BROKER_TUNING) as mqtt,
        ExitStack() as stack,
    ):
        gateways = [
            stack.enter_context(
                ServeProcess(
                    tmp_path,
                    f"gw{i}",
                    VNH_DATABASE_URL=url,
                    VNH_MQTT_URL=mqtt.url,
                    VNH_MQTT_SHARED_GROUP="vnh",
                )
            )
            for i in range(3)
        ]
        for gateway in gateways:  # one after the other: the first brings the schema up
            gateway.start()
        credentials = provision(gateways[0].api_url, gateways[0].token, TERMINALS, "S")
        with make_fleet(mqtt.url, credentials) as fleet:
            fleet.start(WAIT_S)
            with PressStream(fleet, RATE_PER_S) as stream:
                wait_until(lambda: len(stream.events) >= 90)
                gateways[1].kill()  # its un-PUBACKed presses die with its clean session
                wait_until(lambda: len(stream.events) >= 180)
            stream.wait_acked(WAIT_S)
        check_every_press_once(url, stream.events)
        takers = [handled(g) for g in gateways]
        assert all(takers), "every gateway took a share of the presses"
        pressed = {(e.device_id, e.boot, e.seq) for e in stream.events}
        assert pressed <= set().union(*takers)
        # Shared, not copied: with three plain subscriptions each press would be taken thrice.
        assert sum(len(t) for t in takers) < 1.3 * len(pressed), [len(t) for t in takers]


def test_shared_group_without_an_external_broker_is_refused() -> None:
    with pytest.raises(ValueError, match="external MQTT 5 broker"):
        Settings(mqtt_shared_group="vnh", _env_file=None)  # type: ignore[call-arg]
