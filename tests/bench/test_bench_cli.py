"""`vnh bench` end to end on a tiny fleet: it starts its brokers and service, and reports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.external_service]


def test_bench_reports_paired_figures_for_the_service_and_the_echo() -> None:
    argv = [sys.executable, "-c", "from vnh.cli import main; main()", "bench"]
    options = ["--devices", "3", "--rounds", "1", "--rate", "5", "--duration", "1", "--repeat", "2"]
    done = subprocess.run(
        [*argv, *options, "--json"], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert len(report["runs"]) == 2
    for run in report["runs"]:
        # Every press of both backends was acked: 3 terminals pressing once each in the burst.
        assert run["service"]["burst_presses"] == 3
        assert run["echo"]["burst_presses"] == 3
        assert run["service"]["steady_unacked"] == 0
        assert run["ratio"]["burst_per_s"] is not None
    assert report["service"]["p50_ms"] is not None


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
