"""`vnh bench scale` end to end on a tiny fleet: two gateways sharing terminals, and the costs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.databases import PG_ADMIN_DSN, postgres_available
from vnh.bench_procs import mosquitto_binary
from vnh.bench_scale import PARTS, thread_cpu_s


def _require(ok: bool, what: str) -> None:
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"{what} is missing; `make test` provides it")
        pytest.skip(f"{what} is missing")


@pytest.mark.slow
@pytest.mark.external_service
@pytest.mark.pg
@pytest.mark.mosquitto
@pytest.mark.timeout(600)
def test_bench_scale_reports_two_gateways_every_press_acked_and_costs_per_part() -> None:
    _require(mosquitto_binary() is not None, "Mosquitto")
    _require(postgres_available(), f"PostgreSQL at {PG_ADMIN_DSN}")
    argv = [sys.executable, "-c", "from vnh.cli import main; main()", "bench", "scale"]
    options = ["--processes", "2", "--devices", "3", "--rounds", "1", "--rate", "5"]
    options += ["--duration", "1", "--presses", "6", "--press-rate", "10", "--idle", "8"]
    options += ["--heartbeat-rounds", "1", "--pg-admin-dsn", PG_ADMIN_DSN]
    done = subprocess.run(
        [*argv, *options, "--json"], capture_output=True, text=True, timeout=560, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    [run] = report["runs"]
    assert run["processes"] == 2 and len(run["quiet_cpu_ms_per_s"]) == 2
    # The burst (3 terminals once) and the steady rate, through the gateways and the echo.
    for backend in ("service", "echo"):
        assert run[backend]["burst_presses"] == 3
        assert run[backend]["steady_unacked"] == 0
    press = run["press"]
    assert (press["presses"], press["acked"]) == (6, 6)
    assert set(press["gateway_cpu_ms"]) == {"total", "other", *(part for part, _ in PARTS)}
    assert len(press["gateway_cpu_share"]) == 2  # one figure per gateway process
    # Each emergency opened a case (a row in care_case) and alerted the family through Twilio.
    assert press["tables"]["care_case"]["rows"] == 6
    assert press["twilio"].get("Messages", 0) + press["twilio"].get("Calls", 0) >= 6
    idle = report["idle"]
    assert idle["terminals"] == 8 and idle["broker_rss_after"] > 0
    assert (idle["heartbeats"], idle["heartbeats_acked"]) == (8, 8)
    assert idle["heartbeat"]["db_rows"] == 0  # a heartbeat updates its terminal's row only


def test_thread_cpu_names_every_part_and_the_process_total() -> None:
    figures = thread_cpu_s(os.getpid())
    assert set(figures) == {"total", "other", *(part for part, _ in PARTS)}
    assert figures["total"] >= figures["other"] >= 0.0
