"""Fixtures the integration stories share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alerts.runtime import AlertsComponent
from care_api.services import Services


@pytest.fixture
def alerts(svc: Services) -> Iterator[AlertsComponent]:
    """The alerts engine on the test's `svc`, following its bus; the test drives it by hand."""
    component = AlertsComponent(svc.settings, svc)
    component.attach()
    yield component
    component.stop()
