"""Fleet fixtures: services with an admin token, the alerts engine attached, an API client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from alerts.runtime import AlertsComponent
from care_api.http.app import create_app
from care_api.services import Services, build_services
from care_api.settings import Settings
from tests.api.support import ADMIN_TOKEN, TestClient
from tests.fakes import FakeClock


@pytest.fixture
def services(db_url: str, clock: FakeClock) -> Iterator[Services]:
    settings = Settings(
        database_url=db_url,
        admin_token=SecretStr(ADMIN_TOKEN),
        _env_file=None,  # type: ignore[call-arg]
    )
    svc = build_services(settings, clock=clock)
    yield svc
    svc.close()


@pytest.fixture
def alerts(services: Services) -> Iterator[AlertsComponent]:
    """The alerts engine on the test's thread: `run_pending()`, `tick()`, `fleet.watch()`."""
    component = AlertsComponent(services.settings, services)
    component.attach()
    yield component
    component.stop()


@pytest.fixture
def api(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services)) as client:
        yield client
