"""Fixtures shared by the whole suite: clock, databases, services, and the log guard."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from care_api.services import Services, build_services
from care_api.settings import Settings
from tests.databases import database_url, migrated_sqlite_url
from tests.fakes import FakeClock

# The suite's stories were written in English: they run with English as the centre's
# language (also for the `vnh serve` they start). The Chinese default and a Chinese centre's
# messages have their own tests (tests/integration/test_languages.py).
os.environ.setdefault("VNH_LANGUAGE", "en")
# Staff passwords in tests guard nothing: argon2 at production cost spent 0.2 s of CPU on
# every hash and sign-in (the role matrix alone signs in hundreds of times).
os.environ.setdefault("VNH_PASSWORD_HASH_COST", "minimal")
# Hypothesis fails an example that runs past 200 ms: a wall-clock assertion, which a shared
# 2-core machine broke (test_batching failed once while the suite ran beside other work).
# Speed is measured by `vnh bench`, never asserted in a test.
hypothesis_settings.register_profile("vnh", deadline=None)
hypothesis_settings.load_profile("vnh")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.external_service)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return migrated_sqlite_url(tmp_path / "vnh-test.db")


def make_settings(url: str, **overrides: object) -> Settings:
    return Settings(database_url=url, _env_file=None, **overrides)  # type: ignore[call-arg]


@pytest.fixture
def services(db_url: str, clock: FakeClock) -> Iterator[Services]:
    svc = build_services(make_settings(db_url), clock=clock)
    yield svc
    svc.close()


@pytest.fixture(autouse=True)
def no_logged_errors(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """A test that logged an ERROR fails, unless it says it expects one."""
    yield
    if request.node.get_closest_marker("allow_logged_errors"):
        return
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


SLOW_TIMEOUT_S = 600

# What a module's source names decides what its tests need, so `-m "not pg"` and friends
# select a slice without anyone remembering to mark each test.
_NEEDS = {
    "mosquitto": ("run_mosquitto", "tests.mosquitto", "tests.faults.support"),
    "pg": ('"postgres"', "postgres_database("),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    sources: dict[Path, str] = {}
    for item in items:
        path = Path(item.path)
        if path not in sources:
            sources[path] = path.read_text(encoding="utf-8")
        text = sources[path]
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "postgres" in params.values():
            item.add_marker(pytest.mark.pg)
        for marker, needles in _NEEDS.items():
            if any(n in text for n in needles):
                item.add_marker(getattr(pytest.mark, marker))
        if "browser" in path.parts:
            item.add_marker(pytest.mark.browser)
        # A slow test runs whole processes, each step bounded by its own waits; on a loaded
        # machine (load average 17) a crash run took 119 s of the suite's 120 s limit.
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT_S))
    # The slow tests (a whole service and its benches, crash and fault runs) go first: xdist
    # hands tests out in collection order, and one of them starting last kept a single worker
    # busy for the run's last minutes while the others were idle. Stable: the rest keep order.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
