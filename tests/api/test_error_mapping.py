"""Only the domain's refusals are the client's fault (4xx); any other exception is a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter

from care_api.domain.errors import InvalidInput
from care_api.http.app import create_app
from care_api.services import Services, build_services
from tests.api.support import ADMIN, TestClient
from tests.conftest import make_settings
from tests.databases import migrated_sqlite_url
from tests.fakes import FakeClock

router = APIRouter(prefix="/probe")


@router.get("/refused")
def refused() -> None:
    raise InvalidInput("a period may span at most 366 days")


@router.get("/bug")
def bug() -> None:
    int("not a number")  # a ValueError nobody meant to raise


@pytest.fixture
def client(tmp_path: Path, clock: FakeClock) -> Iterator[TestClient]:
    svc: Services = build_services(
        make_settings(migrated_sqlite_url(tmp_path / "e.db")), clock=clock
    )
    app = create_app(svc, routers=[router])
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
    svc.close()


def test_errors_a_refused_input_is_422_with_its_reason(client: TestClient) -> None:
    answer = client.get("/probe/refused")
    assert answer.status_code == 422
    assert answer.json() == {"detail": "a period may span at most 366 days"}


@pytest.mark.allow_logged_errors
def test_errors_a_programming_error_is_a_500_not_a_422(client: TestClient) -> None:
    assert client.get("/probe/bug").status_code == 500


def test_errors_a_kpi_period_that_is_no_date_is_422(services: Services) -> None:
    # schemathesis found it: the parser's own ValueError used to pass as the client's fault
    with TestClient(create_app(services)) as api:
        answer = api.get("/api/v1/reports/kpi", params={"from": "\U000c3ce9.B"}, headers=ADMIN)
    assert answer.status_code == 422
    assert "neither a date" in answer.json()["detail"]
