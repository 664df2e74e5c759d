"""Fixtures of the dispatch stories: services, the alerts engine on a moved clock, the HTTP app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alerts.runtime import AlertsComponent
from care_api.services import Services, build_services
from tests.api.support import TestClient
from tests.conftest import make_settings
from tests.dispatch.support import ADMIN_TOKEN, AUTH_TOKEN, PUBLIC_URL, dispatch_app
from tests.fakes import FakeClock
from tests.helpers import outbox_alerts


@pytest.fixture
def svc(db_url: str, clock: FakeClock) -> Iterator[Services]:
    settings = make_settings(
        db_url,
        admin_token=ADMIN_TOKEN,
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from="+15005550006",
        public_url=PUBLIC_URL,
        supervisor_phone="+8613700000000",
    )
    services = build_services(settings, clock=clock)
    yield services
    services.close()


@pytest.fixture
def alerts(svc: Services) -> Iterator[AlertsComponent]:
    # Messages stay in the outbox: the stories check the rows, not a provider.
    component = outbox_alerts(svc)
    yield component
    component.stop()


@pytest.fixture
def api(svc: Services, alerts: AlertsComponent) -> Iterator[TestClient]:
    with TestClient(dispatch_app(svc)) as client:
        yield client
