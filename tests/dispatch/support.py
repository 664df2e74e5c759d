"""What the dispatch stories share: the app, people made through the API, the outbox, SMS."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from fastapi import APIRouter, FastAPI
from sqlmodel import col, select
from twilio.request_validator import RequestValidator

from alerts import webhooks
from alerts.runtime import AlertsComponent
from care_api.http.app import API_PREFIX, create_app
from care_api.http.routes import filings, merchants, orders, volunteers
from care_api.services import Services
from care_api.store.tables import Case, CaseEvent, Notification
from tests.api.support import TestClient, bearer

ADMIN_TOKEN = "admin-token-for-dispatch-tests"
ADMIN = bearer(ADMIN_TOKEN)
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC_URL = "https://vnh.example.org"
ELDER_AT = (29.1, 119.65)  # Jinhua
KM = 1 / 111.2  # degrees of latitude in a kilometre
ROUTERS = (volunteers.router, merchants.router, orders.router, filings.router)


def dispatch_app(services: Services) -> FastAPI:
    """The service's app with the dispatch routes, the console's reads and the webhooks."""
    app = create_app(
        services,
        routers=[webhooks.router],
    )
    paths = {getattr(r, "path", "") for r in app.routes}
    if f"{API_PREFIX}/volunteers" not in paths:
        # Until create_app includes them itself.
        extra = APIRouter(prefix=API_PREFIX)
        for router in ROUTERS:
            extra.include_router(router)
        app.include_router(extra)
    return app


def ok(response: Any, code: int = 200) -> Any:
    assert response.status_code == code, response.text
    return response.json()


def mint(api: TestClient, role: str, name: str, subject_id: int | None = None) -> dict[str, str]:
    """A bearer header for a person with `role` (and the volunteer/merchant they are)."""
    body: dict[str, Any] = {"role": role, "name": name}
    if subject_id is not None:
        body["subject_id"] = subject_id
    return bearer(ok(api.post("/api/v1/tokens", json=body, headers=ADMIN), 201)["token"])


def north(km: float) -> tuple[float, float]:
    """A point `km` kilometres north of the elder."""
    return ELDER_AT[0] + km * KM, ELDER_AT[1]


def add_elder(api: TestClient, **more: Any) -> int:
    body = {
        "name": "Wang Fang",
        "phone": "+8613800000000",
        "address": "12 Bamboo Lane",
        "lat": ELDER_AT[0],
        "lon": ELDER_AT[1],
        "medical_notes": "diabetic; insulin at 8",
        **more,
    }
    return int(ok(api.post("/api/v1/elders", json=body, headers=ADMIN), 201)["id"])


def add_volunteer(api: TestClient, name: str, phone: str, km: float, **more: Any) -> int:
    lat, lon = north(km)
    body = {"name": name, "phone": phone, "lat": lat, "lon": lon, **more}
    return int(ok(api.post("/api/v1/volunteers", json=body, headers=ADMIN), 201)["id"])


def add_merchant(api: TestClient, name: str, phone: str, km: float, **more: Any) -> int:
    lat, lon = north(km)
    body = {"name": name, "phone": phone, "lat": lat, "lon": lon, "categories": ["meals"], **more}
    return int(ok(api.post("/api/v1/merchants", json=body, headers=ADMIN), 201)["id"])


def file_case(
    api: TestClient,
    elder_id: int,
    kind: str,
    summary: str = "needs help",
    **more: Any,
) -> dict[str, Any]:
    body = {"elder_id": elder_id, "kind": kind, "summary": summary, **more}
    filed: dict[str, Any] = ok(api.post("/api/v1/cases", json=body, headers=ADMIN), 201)
    return filed


def settle(alerts: AlertsComponent) -> None:
    """Let the engine catch up: queued events, due timers, then sending."""
    alerts.run_pending()
    alerts.tick()
    alerts.run_pending()


def sms(api: TestClient, phone: str, body: str) -> str:
    """Reply by SMS through the signed Twilio webhook; returns the answer's text."""
    params = {"From": phone, "Body": body, "To": "+15005550006"}
    path = "/webhooks/twilio/sms"
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_URL + path, params)
    response = api.post(path, data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200, response.text
    message = ET.fromstring(response.text).find("Message")
    assert message is not None and message.text
    return message.text


def messages(svc: Services, case_id: str | None = None) -> list[Notification]:
    with svc.uow() as uow:
        query = select(Notification).order_by(col(Notification.id))
        if case_id is not None:
            query = query.where(Notification.case_id == case_id)
        return list(uow.session.exec(query).all())


def sms_to(svc: Services, case_id: str | None = None) -> dict[str, list[str]]:
    """Phone number → the SMS bodies it was sent, oldest first."""
    found: dict[str, list[str]] = {}
    for n in messages(svc, case_id):
        if n.channel == "sms":
            found.setdefault(n.to, []).append(n.body)
    return found


def console_lines(svc: Services, case_id: str | None = None) -> list[str]:
    return [n.body for n in messages(svc, case_id) if n.channel == "console"]


def case_row(svc: Services, case_id: str) -> Case:
    with svc.uow() as uow:
        case = uow.session.get(Case, case_id)
        assert case is not None
        return case


def history(svc: Services, case_id: str) -> list[tuple[str, str]]:
    with svc.uow() as uow:
        rows = uow.session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.id))
        ).all()
        return [(e.action, e.why) for e in rows]
