"""`vnh bench` end to end on a tiny fleet: it starts its brokers and service, and reports."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import psycopg
import pytest

from tests.databases import PG_ADMIN_DSN
from vnh.bench_procs import BENCH_DB_PREFIX

pytestmark = [pytest.mark.slow, pytest.mark.external_service]


@pytest.mark.pg
def test_bench_reports_paired_figures_and_first_alerts_on_sqlite_and_postgresql() -> None:
    argv = [sys.executable, "-c", "from vnh.cli import main; main()", "bench"]
    options = ["--devices", "3", "--rounds", "1", "--rate", "5", "--duration", "1", "--repeat", "2"]
    options += ["--alert-rate", "5", "--alert-duration", "1"]
    options += ["--database", "sqlite", "--database", "postgresql", "--pg-admin-url", PG_ADMIN_DSN]
    done = subprocess.run(
        [*argv, *options, "--json"], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert [one["database"] for one in report["databases"]] == ["sqlite", "postgresql"]
    for one in report["databases"]:
        assert len(one["runs"]) == 2
        for run in one["runs"]:
            # Every press of both backends was acked: 3 terminals pressing once each in the burst.
            assert run["service"]["burst_presses"] == 3
            assert run["echo"]["burst_presses"] == 3
            assert run["service"]["steady_unacked"] == 0
            assert run["ratio"]["burst_per_s"] is not None
        assert one["service"]["p50_ms"] is not None
        alerts = one["alerts"]
        # Each emergency was acked and reached the Twilio stand-in, and both were timed.
        assert alerts["presses"] >= 5
        assert alerts["acked"] == alerts["alerted"] == alerts["presses"]
        assert alerts["ack_p99_ms"] is not None and alerts["alert_p99_ms"] is not None
    # The run's PostgreSQL database was dropped (other runs may make theirs meanwhile).
    made = re.findall(rf"PostgreSQL database ({BENCH_DB_PREFIX}\w+) made", done.stderr)
    assert len(made) == 1 and made[0] not in _bench_databases()


def _bench_databases() -> set[str]:
    with psycopg.connect(PG_ADMIN_DSN) as conn:
        rows = conn.execute("SELECT datname FROM pg_database").fetchall()
    return {name for (name,) in rows if name.startswith(BENCH_DB_PREFIX)}


def test_bench_storm_reports_acks_alerts_and_what_the_storm_caused() -> None:
    argv = [sys.executable, "-c", "from vnh.cli import main; main()", "bench", "storm"]
    options = ["--terminals", "40", "--storm-s", "2", "--baseline-s", "2", "--rate", "3"]
    done = subprocess.run(
        [*argv, *options, "--json"], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    for phase in ("quiet", "storm"):
        figures = report[phase]
        assert figures["presses"] > 0 and figures["acked"] == figures["presses"]
        assert figures["alerted"] == figures["presses"]  # every emergency reached Twilio
        assert figures["ack_p99_ms"] is not None and figures["alert_p99_ms"] is not None
    assert report["storm_events"] == {**report["storm_events"], "sent": 40, "recorded": 40}
    effects = report["storm_effects"]
    assert (effects["incidents"], effects["incident_terminals"]) == (1, 40)
    assert effects["device_cases_open"] == 0
    # Only the storm's first terminal, alone when it spoke, may have been texted.
    assert effects["family_sms"] <= 1
