"""Shared by the contract tests: a service on a PostgreSQL database of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from care_api.services import Services, build_services
from tests.conftest import make_settings
from tests.databases import database_url
from tests.fakes import FakeClock


@pytest.fixture
def pg(tmp_path: Path, clock: FakeClock) -> Iterator[Services]:
    with database_url("postgres", tmp_path) as url:
        services = build_services(make_settings(url), clock=clock)
        yield services
        services.close()
