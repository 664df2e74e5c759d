"""A small world for the role matrix: two elders, people of every role, and fresh objects.

"Own" objects are those a person is entitled to (the caregiver's elder, the volunteer's
task, the merchant's order); "other" objects belong to someone else. Every factory makes a
fresh object, so that a call which changes state never spoils the next one.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import SecretStr
from sqlmodel import select

from alerts.notify.outbox import OutboxNotifier
from alerts.ports import Channel
from alerts.runtime import AlertsComponent
from care_api.services import Services, build_services
from care_api.settings import Settings
from care_api.store.tables import HotlineCall, MerchantStrike, ServiceOrder, VolunteerTask
from care_api.usecases.people.staff import add_user
from tests.api.support import ADMIN, ADMIN_TOKEN, TestClient, bearer
from tests.fakes import FakeClock
from tests.mosquitto import free_port
from vnh.cli import build_app

ADMIN_ROLE, OPERATOR, CAREGIVER, VOLUNTEER, MERCHANT = ROLES = (
    "admin",
    "operator",
    "caregiver",
    "volunteer",
    "merchant",
)
ELDER_AT = (29.1, 119.65)
KM = 1 / 111.2  # degrees of latitude in a kilometre
MISSING = {
    "elder_id": 987654,
    "case_id": "C-19990101-9999",
    "device_id": "NO-SUCH-DEVICE",
    "task_id": 987654,
    "order_id": 987654,
    "volunteer_id": 987654,
    "merchant_id": 987654,
    "call_id": 987654,
}


def ok(response: Any, code: int | None = None) -> Any:
    assert response.status_code == code if code else response.is_success, response.text
    return response.json() if response.content else None


class World:
    """The people and the objects the matrix calls routes on."""

    def __init__(self, api: TestClient, services: Services, alerts: AlertsComponent) -> None:
        self.api = api
        self.services = services
        self.alerts = alerts
        self._serial = itertools.count(1)
        self._staff_user: int | None = None
        self.elder_a = self.elder("Wang Fang")  # the caregiver's
        self.elder_b = self.elder("Li Na")  # someone else's
        self.volunteer_v = self.post("/volunteers", self._person("Ann", 0.5))["id"]
        self.volunteer_w = self.post("/volunteers", self._person("Bo", 0.6))["id"]
        self.merchant_m = self.post("/merchants", self._merchant("Meals Co", "meals"))["id"]
        self.merchant_n = self.post("/merchants", self._merchant("Fix-it", "repair"))["id"]
        self.device_a = self.device(own=True)
        self.device_b = self.device(own=False)
        self.headers = {
            ADMIN_ROLE: ADMIN,
            OPERATOR: self.mint("operator", "Operator Zhao"),
            CAREGIVER: self.mint("caregiver", "Wang Jun", elder_ids=[self.elder_a]),
            VOLUNTEER: self.mint("volunteer", "Ann", subject_id=self.volunteer_v),
            MERCHANT: self.mint("merchant", "Meals Co", subject_id=self.merchant_m),
        }

    # -- plumbing --------------------------------------------------------------------------

    def post(self, path: str, body: dict[str, Any] | None = None, *, as_: str = "") -> Any:
        headers = self.headers[as_] if as_ else ADMIN
        return ok(self.api.post(f"/api/v1{path}", json=body, headers=headers))

    def mint(self, role: str, name: str, **more: Any) -> dict[str, str]:
        token = self.post("/tokens", {"role": role, "name": name, **more})["token"]
        return bearer(token)

    def settle(self) -> None:
        self.alerts.run_pending()
        self.alerts.tick()
        self.alerts.run_pending()

    STAFF_PASSWORD = "matrix password"

    def staff_user(self) -> int:
        """A staff login (made once) for the user routes and the sign-in."""
        if self._staff_user is None:
            with self.services.uow() as uow:
                user = add_user(
                    uow.session,
                    username="matrix.op",
                    role="operator",
                    password=self.STAFF_PASSWORD,
                    now=self.services.clock.now(),
                )
                uow.commit()
                self._staff_user = user.id
        return self._staff_user or 0

    def staff_login(self) -> dict[str, str]:
        self.staff_user()
        return {"username": "matrix.op", "password": self.STAFF_PASSWORD}

    def unique(self, prefix: str) -> str:
        return f"{prefix}{next(self._serial)}"

    # -- people ----------------------------------------------------------------------------

    def elder(self, name: str) -> int:
        body = {
            "name": name,
            "phone": "+8613800000000",
            "address": "12 Bamboo Lane",
            "lat": ELDER_AT[0],
            "lon": ELDER_AT[1],
            "medical_notes": "diabetic; insulin at 8",
        }
        return int(self.post("/elders", body)["id"])

    def _person(self, name: str, km: float) -> dict[str, Any]:
        phone = f"+861310000{next(self._serial):04d}"
        return {"name": name, "phone": phone, "lat": ELDER_AT[0] + km * KM, "lon": ELDER_AT[1]}

    def _merchant(self, name: str, category: str) -> dict[str, Any]:
        return {**self._person(name, 1.0), "categories": [category]}

    def elder_of(self, own: bool) -> int:
        return self.elder_a if own else self.elder_b

    # -- objects ---------------------------------------------------------------------------

    def device(self, own: bool) -> str:
        device_id = self.unique("T")
        self.post("/devices", {"device_id": device_id, "elder_id": self.elder_of(own)})
        return device_id

    def case(self, own: bool, kind: str = "consult", *, settle: bool = False) -> str:
        """A new case; `settle` runs its alerts (the offers of a care case)."""
        body = {"elder_id": self.elder_of(own), "kind": kind, "summary": "needs help"}
        case_id = str(self.post("/cases", body)["id"])
        if settle:
            self.settle()
        return case_id

    def contact_of(self, own: bool) -> dict[str, int]:
        """A fresh contact of the own (or other) elder, to edit or remove."""
        elder_id = self.elder_of(own)
        body = {"name": self.unique("Kin "), "phone": "+8613900000077", "relation": "niece"}
        made = self.post(f"/elders/{elder_id}/contacts", body)
        return {"elder_id": elder_id, "contact_id": int(made["id"])}

    def care_case_to_offer(self) -> str:
        """A care case nobody owns whose offers have not gone out (reclassified just now)."""
        case_id = self.case(True)
        self.post(f"/cases/{case_id}/reclassify", {"kind": "care"})
        return case_id

    def acked_case(self, role: str, own: bool) -> str:
        """A case its caller owns (acknowledged by them; by the admin for others' cases)."""
        case_id = self.case(own)
        takes_cases = role in (ADMIN_ROLE, OPERATOR, CAREGIVER)
        self.post(f"/cases/{case_id}/ack", as_=role if own and takes_cases else "")
        return case_id

    def resolved_case(self, own: bool) -> str:
        case_id = self.acked_case(ADMIN_ROLE, own)
        self.post(f"/cases/{case_id}/resolve", {"note": "done"})
        return case_id

    def task(self, own: bool, *, accepted: bool = False) -> int:
        """A care task offered to the volunteer (own) or to another volunteer."""
        case_id = self.case(True, kind="care", settle=True)
        volunteer = self.volunteer_v if own else self.volunteer_w
        with self.services.uow() as uow:
            task = uow.session.exec(
                select(VolunteerTask).where(
                    VolunteerTask.case_id == case_id, VolunteerTask.volunteer_id == volunteer
                )
            ).one()
        assert task.id is not None
        if accepted:
            token = (
                self.headers[VOLUNTEER]
                if own
                else self.mint("volunteer", "Bo", subject_id=volunteer)
            )
            ok(self.api.post(f"/api/v1/tasks/{task.id}/accept", headers=token))
        return task.id

    def order(self, own: bool, *, contacted: bool = False) -> int:
        """A service order with the merchant (own) or with another merchant."""
        case_id = self.case(True, kind="service")
        category = "meals" if own else "repair"
        order_id = int(self.post(f"/cases/{case_id}/orders", {"category": category})["id"])
        if contacted:
            merchant = self.merchant_m if own else self.merchant_n
            token = (
                self.headers[MERCHANT] if own else self.mint("merchant", "Fix", subject_id=merchant)
            )
            ok(self.api.post(f"/api/v1/orders/{order_id}/contacted", headers=token))
        return order_id

    def case_of_task(self, task_id: int) -> str:
        with self.services.uow() as uow:
            task = uow.session.get(VolunteerTask, task_id)
            assert task is not None
            return task.case_id

    def case_of_order(self, order_id: int) -> str:
        with self.services.uow() as uow:
            order = uow.session.get(ServiceOrder, order_id)
            assert order is not None
            return order.case_id

    def strike(self) -> int:
        case_id = self.case(True, kind="service")
        with self.services.uow() as uow:
            row = MerchantStrike(
                merchant_id=self.merchant_m,
                case_id=case_id,
                at=self.services.clock.now(),
                card="yellow",
                reason="late",
            )
            uow.session.add(row)
            uow.commit()
            assert row.id is not None
            return row.id

    def command(self) -> int:
        return int(self.post(f"/devices/{self.device_a}/commands", {"cmd": "ping"})["id"])

    def token(self) -> int:
        return int(self.post("/tokens", {"role": "operator", "name": "Temp"})["id"])

    def calendar_day(self) -> str:
        day = f"2027-01-{next(self._serial) % 28 + 1:02d}"
        ok(self.api.put(f"/api/v1/calendar/{day}", json={"working": False}, headers=ADMIN))
        return day

    def shift(self) -> int:
        body = {"person": "Sun Li", "role": "supervisor", "phone": "+8613700000001"}
        body |= {"start": "2027-01-01T08:00:00+08:00", "end": "2027-01-01T20:00:00+08:00"}
        return int(self.post("/shifts", body)["id"])

    def missed_call(self) -> int:
        """A call to the centre nobody answered, waiting for its callback."""
        now = self.services.clock.now()
        with self.services.uow() as uow:
            row = HotlineCall(
                sid=self.unique("CA"),
                phone="+8613311112222",
                caller="stranger",
                status="missed",
                started_at=now,
                updated_at=now,
                missed_at=now,
                callback_due_at=now,
            )
            uow.session.add(row)
            uow.commit()
            assert row.id is not None
            return row.id

    def ladder_steps(self) -> list[dict[str, Any]]:
        ladder = ok(self.api.get("/api/v1/ladders/care", headers=ADMIN))
        steps: list[dict[str, Any]] = ladder["steps"]
        return steps

    def visible_elders(self, role: str, path: str) -> Iterator[int]:
        """The elder ids in what `role` is shown at `path` (elder_id fields, any depth)."""
        found = ok(self.api.get(f"/api/v1{path}", headers=self.headers[role]))
        stack = [found]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                if isinstance(item.get("elder_id"), int):
                    yield item["elder_id"]
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)


@contextmanager
def open_world(db_url: str, clock: FakeClock) -> Iterator[World]:
    """The app `vnh serve` runs, over a fresh world, with the alerts engine on the clock."""
    settings = Settings(
        database_url=db_url,
        admin_token=SecretStr(ADMIN_TOKEN),
        # An ASGI client that runs the lifespan starts the embedded broker: never on 1884,
        # where a developer's own `vnh serve` may be listening.
        embedded_mqtt_port=free_port(),
        _env_file=None,  # type: ignore[call-arg]
    )
    services = build_services(settings, clock=clock)
    outbox = OutboxNotifier()
    notifiers = {Channel.sms: outbox, Channel.voice: outbox}
    alerts = AlertsComponent(settings, services, notifiers=notifiers)
    alerts.attach()
    # Built like `vnh serve`, so routes wired in the composition root are covered too; its
    # gateway and alerts components do not start (no lifespan without `with TestClient`).
    app, _stream = build_app(settings, services)
    try:
        yield World(TestClient(app), services, alerts)
    finally:
        alerts.stop()
        services.close()
