"""The harness's brokers: a test must never talk to another test's broker by mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mosquitto import MosquittoServer, run_mosquitto


def test_a_broker_whose_port_is_taken_fails_to_start_instead_of_using_the_other(
    tmp_path: Path,
) -> None:
    with run_mosquitto(tmp_path / "first") as first:
        second = MosquittoServer(tmp_path / "second")
        second.port = first.port  # as when two workers draw the same port
        second.conf_path.write_text(
            f"listener {first.port} {first.host}\nallow_anonymous true\n", encoding="utf-8"
        )
        with pytest.raises(RuntimeError, match="Address already in use"):
            second.start()
        assert first.running
