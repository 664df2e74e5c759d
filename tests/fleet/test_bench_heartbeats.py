"""`vnh bench heartbeats` on a small fleet: every run happens and the figures are printed."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from vnh.bench_heartbeats import bench_heartbeats, measure


def test_bench_heartbeats_prints_cpu_wall_memory_and_the_ratio() -> None:
    app = typer.Typer()
    app.command()(bench_heartbeats)
    result = CliRunner().invoke(app, ["--terminals", "300", "--baseline-terminals", "100"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "per 100,000 terminals" in out and "decode excluded" in out
    assert "batched (HeartbeatBook, the gateway's path), 300 measured: CPU" in out
    assert "rows read per run of 100 (record_heartbeats), 300 measured: CPU" in out
    assert "one row per heartbeat (baseline), 100 measured: CPU" in out
    assert "baseline CPU x" in out and "book memory:" in out


def test_bench_heartbeats_measures_every_run_and_the_book() -> None:
    figures = measure(200, baseline_terminals=50)
    runs = (figures.batched, figures.in_runs, figures.baseline)
    assert [r.terminals for r in runs] == [200, 200, 50]
    assert all(r.cpu_s > 0 for r in runs)
    assert figures.book_bytes > 0 and figures.peak_rss_bytes > 0
