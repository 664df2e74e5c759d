"""`vnh bench-watch` on a few watches: every watch connects, is answered, alarms open cases."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from vnh.bench_watch import bench_watch, measure


def test_bench_watch_holds_every_watch_and_answers_every_frame() -> None:
    figures = measure(30, alarms=3, duration_s=2, lk_every_s=0.5, ud_every_s=1)
    r = figures.result
    assert (r.connected, figures.held, r.closed_by_receiver) == (30, 30, 0)
    assert len(r.connect_lk_ms) == 30 and r.lk_ms and r.lk_unanswered == 0
    assert (len(r.al_ms), r.al_unanswered, figures.cases) == (3, 0, 3)
    assert figures.peak_rss_bytes > 0


def test_bench_watch_prints_its_figures() -> None:
    app = typer.Typer()
    app.command()(bench_watch)
    args = ["--watches", "10", "--alarms", "1", "--seconds", "1", "--lk-every", "0.5"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "watches: 10, connected 10 (refused 0); the receiver held 10 at once" in out
    assert "steady LK -> answer: n=" in out and "p99" in out
    assert "cases opened 1" in out and "peak RSS" in out
