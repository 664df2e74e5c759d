"""The app itself: health, metrics, components' lifecycle, extra routers, OpenAPI."""

from __future__ import annotations

import random
import string
from typing import Any

import pytest
from fastapi import APIRouter

from care_api.http.app import create_app
from care_api.services import Services
from care_api.usecases.intake.reports import record_device_report
from tests.api.support import ADMIN, TestClient, bearer, mint
from tests.helpers import press, seed_elder


class RecordingComponent:
    """A component that writes its starts and stops into a shared log."""

    def __init__(self, name: str, log: list[str], *, fail_start: bool = False) -> None:
        self.name, self.log, self.fail_start = name, log, fail_start

    def start(self) -> None:
        if self.fail_start:
            raise RuntimeError(f"{self.name} cannot start")
        self.log.append(f"start {self.name}")

    def stop(self) -> None:
        self.log.append(f"stop {self.name}")


def test_health_ok_without_a_token_says_only_up(services: Services) -> None:
    checks = {"gateway": lambda: {"mqtt_connected": True, "dc09": {"listen": "10.0.0.5:7050"}}}
    with TestClient(create_app(services, health_checks=checks)) as client:
        anonymous = client.get("/healthz")
        staff = client.get("/healthz", headers=ADMIN)
        forged = client.get("/healthz", headers=bearer("not-a-token"))
    assert (anonymous.status_code, anonymous.json()) == (200, {"status": "ok"})
    assert staff.json() == {"status": "ok", "database": "ok", **{"gateway": checks["gateway"]()}}
    assert forged.status_code == 401


def test_health_shows_component_reports_and_a_failing_check_degrades(services: Services) -> None:
    def broken() -> dict[str, Any]:
        raise ConnectionError("broker unreachable")

    checks = {"gateway": lambda: {"connected": True, "inbox": 0}, "alerts": broken}
    with TestClient(create_app(services, health_checks=checks)) as client:
        anonymous = client.get("/healthz")
        volunteer = client.get("/healthz", headers=mint(client, "volunteer", subject_id=1))
        resp = client.get("/healthz", headers=ADMIN)
    # Up or down for anyone; what the parts report (addresses, counters, errors) for staff.
    assert (anonymous.status_code, anonymous.json()) == (503, {"status": "degraded"})
    assert (volunteer.status_code, volunteer.json()) == (503, {"status": "degraded"})
    assert resp.status_code == 503
    assert resp.json() == {
        "status": "degraded",
        "database": "ok",
        "gateway": {"connected": True, "inbox": 0},
        "alerts": {"error": "broker unreachable"},
    }


def test_health_components_start_in_order_and_stop_in_reverse(services: Services) -> None:
    log: list[str] = []
    parts = [RecordingComponent("gateway", log), RecordingComponent("alerts", log)]
    with TestClient(create_app(services, components=parts)) as client:
        assert log == ["start gateway", "start alerts"]
        assert client.get("/healthz").status_code == 200
    assert log == ["start gateway", "start alerts", "stop alerts", "stop gateway"]


def test_health_a_component_failing_to_start_stops_those_started(services: Services) -> None:
    log: list[str] = []
    parts = [
        RecordingComponent("gateway", log),
        RecordingComponent("alerts", log, fail_start=True),
        RecordingComponent("never", log),
    ]
    with (
        pytest.raises(RuntimeError, match="alerts cannot start"),
        TestClient(create_app(services, components=parts)),
    ):
        pass
    assert log == ["start gateway", "stop gateway"]


def test_health_extra_routers_are_included_as_given(services: Services) -> None:
    router = APIRouter(prefix="/webhooks/twilio", tags=["webhooks"])

    @router.post("/sms")
    def sms() -> dict[str, str]:
        return {"ok": "yes"}

    with TestClient(create_app(services, routers=[router])) as client:
        assert client.post("/webhooks/twilio/sms").json() == {"ok": "yes"}
        assert "/webhooks/twilio/sms" in client.get("/openapi.json").json()["paths"]


def test_health_metrics_count_requests_by_route_and_open_cases_by_kind(
    api: TestClient, services: Services
) -> None:
    seed_elder(services)
    record_device_report(services.uow, press(), now=services.clock.now(), tz=services.tz)
    api.get("/api/v1/cases", headers=ADMIN)
    api.get("/api/v1/cases/C-20261122-0001", headers=ADMIN)
    api.get("/api/v1/cases/C-20261122-0099", headers=ADMIN)
    api.get("/no/such/path")
    resp = api.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    lines = set(resp.text.splitlines())
    for expected in (
        'vnh_http_requests_total{method="GET",route="/api/v1/cases",status="200"} 1.0',
        'vnh_http_requests_total{method="GET",route="/api/v1/cases/{case_id}",status="200"} 1.0',
        'vnh_http_requests_total{method="GET",route="/api/v1/cases/{case_id}",status="404"} 1.0',
        'vnh_http_requests_total{method="GET",route="unmatched",status="404"} 1.0',
        'vnh_open_cases{kind="emergency"} 1.0',
        'vnh_open_cases{kind="care"} 0.0',
    ):
        assert expected in lines, expected


def test_health_each_app_has_its_own_metrics(services: Services) -> None:
    with TestClient(create_app(services)) as one, TestClient(create_app(services)) as two:
        one.get("/healthz")
        one.get("/healthz")
        two.get("/healthz")
        count = 'vnh_http_requests_total{method="GET",route="/healthz",status="200"}'
        assert f"{count} 2.0" in one.get("/metrics").text.splitlines()
        assert f"{count} 1.0" in two.get("/metrics").text.splitlines()


def test_health_openapi_document_lists_routes_tags_and_bearer_auth(api: TestClient) -> None:
    doc = api.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    for path in (
        "/api/v1/elders",
        "/api/v1/elders/{elder_id}",
        "/api/v1/elders/{elder_id}/contacts",
        "/api/v1/devices",
        "/api/v1/cases",
        "/api/v1/cases/{case_id}/ack",
        "/api/v1/cases/{case_id}/callback",
        "/api/v1/notifications",
        "/api/v1/tokens",
        "/healthz",
    ):
        assert path in doc["paths"], path
    assert {t["name"] for t in doc["tags"]} >= {"elders", "devices", "cases", "tokens"}
    assert doc["paths"]["/api/v1/cases"]["get"]["tags"] == ["cases"]
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    # Every operation's responses refer only to schemas the document defines.
    schemas = doc["components"]["schemas"]
    refs = _refs(doc["paths"])
    assert refs and all(r.removeprefix("#/components/schemas/") in schemas for r in refs)


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _series(api: TestClient) -> set[str]:
    """The label sets of the request metrics, without their values."""
    lines = api.get("/metrics").text.splitlines()
    return {line.rsplit(" ", 1)[0] for line in lines if line.startswith("vnh_http_request")}


def test_health_made_up_methods_and_paths_add_no_metrics_series(api: TestClient) -> None:
    rng = random.Random(7)
    letters = string.ascii_uppercase + string.digits

    def attack() -> None:
        method = "".join(rng.choices(letters, k=rng.randint(3, 12)))
        path = rng.choice(
            [
                f"/{rng.getrandbits(64):x}/{rng.getrandbits(32):x}",
                f"/api/v1/elders/{rng.randint(1, 10**9)}",
            ]
        )
        api.request(method, path, headers=ADMIN)

    attack(), attack()  # one series per (route template, "other") pair that can arise
    api.request("PROPFIND", "/api/v1/elders/1", headers=ADMIN)
    api.request("PROPFIND", "/nowhere", headers=ADMIN)
    _series(api)  # the scrape itself is a request with series of its own
    before = _series(api)
    for _ in range(200):
        attack()
    after = _series(api)
    assert after == before, sorted(after - before)[:5]
    assert any('method="other",route="/api/v1/elders/{elder_id}"' in s for s in after)
    assert any('method="other",route="unmatched"' in s for s in after)
