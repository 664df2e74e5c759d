"""`vnh demo`: the service, a simulated street of elders pressing buttons, and a live view."""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx
import uvicorn
from rich.console import Console, Group
from rich.live import Live
from sqlmodel import select

from care_api.domain.model import Role
from care_api.i18n import t
from care_api.log_privacy import install_phone_mask
from care_api.store.tables import Device, Elder, Merchant, Volunteer
from care_api.usecases.dispatch.merchants import create_merchant
from care_api.usecases.dispatch.volunteers import create_volunteer
from care_api.usecases.people.registry import (
    add_contact,
    create_elder,
    provision_device,
    rotate_device_secret,
)
from care_api.usecases.people.tokens import mint_token
from firmware_sim.fleet import Fleet
from vnh.demo_board import Feed, board, read_board

if TYPE_CHECKING:
    from care_api.services import Services
    from care_api.settings import Settings

log = logging.getLogger(__name__)

DEMO_PREFIX = "DEMO"
DISTRICTS = ("Wucheng", "Jindong")  # 婺城区, 金东区: answer-time figures per district
LOG_FILE = "vnh-demo.log"
REFRESH_S = 0.5
# Rows the line feed reads a turn: more than a demo street makes in half a second.
FEED_ROWS = 50
STARTUP_TIMEOUT_S = 30.0
FAMILY_ACTOR = "caregiver:演示家属"
# A simulated caregiver answers an emergency after this long, so the demo shows the whole loop.
RESPONDER_DELAY_S = 12.0
NAMES = ["张秀英", "王建国", "李桂兰", "刘德明", "陈玉珍", "杨志强", "赵淑芬", "黄国华"]
# The demo's street is in Jinhua: the district's name as a letter or a form reads it.
ADDRESS = {"Wucheng": "婺城区五一路{n}号", "Jindong": "金东区光南路{n}号"}


def run_demo(
    settings: Settings, services: Services, server: uvicorn.Server, *, elders: int, rate: float
) -> None:
    """Start everything, show the live board until Ctrl-C, then stop everything cleanly."""
    _log_to_file()
    server_thread = threading.Thread(target=server.run, name="vnh-http", daemon=True)
    server_thread.start()
    _wait_for(lambda: server.started, "the HTTP server")
    credentials = _seed(services, elders)
    tokens = _seed_responders(services)
    fleet = Fleet(settings.effective_mqtt_url, credentials, heartbeat_s=60.0, seed=None)
    stop = threading.Event()
    admin = settings.admin_token.get_secret_value() if settings.admin_token else ""
    language = settings.language
    console = Console()
    base = f"http://{settings.http_host}:{settings.http_port}"
    threads: list[threading.Thread] = []
    try:
        fleet.start(timeout_s=STARTUP_TIMEOUT_S)
        threads = [
            threading.Thread(target=fleet.run, args=(rate, None, stop), name="demo-presses"),
            threading.Thread(
                target=_responder, args=(base, tokens["family"], stop), name="demo-responder"
            ),
        ]
        for thread in threads:
            thread.start()
        header = _header(settings, base, admin, tokens)
        if console.is_terminal:
            _live(services, language, header)
        else:
            _lines(services, language, header)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
        fleet.stop()
        server.should_exit = True
        server_thread.join(timeout=10)
    stats = fleet.stats()
    said = t(language, "Demo stopped. Simulated terminals: {figures}", figures=stats.summary())
    console.print(said, soft_wrap=True)  # one line, however narrow: a pipe has no width


def _header(settings: Settings, base: str, admin: str, tokens: dict[str, str]) -> str:
    language = settings.language
    lines = [
        t(
            language,
            "API {url}/docs   console {url}/   admin token: {token}",
            url=base,
            token=admin,
        ),
        t(language, "operator token: {token}", token=tokens["operator"]),
        t(
            language,
            "volunteer token: {token}   (GET /api/v1/tasks, POST …/accept)",
            token=tokens["volunteer"],
        ),
        t(
            language,
            "merchant token: {token}   (GET /api/v1/orders, POST …/contacted)",
            token=tokens["merchant"],
        ),
        t(
            language,
            "MQTT {mqtt}   database {database}   log {log}   Ctrl-C stops everything.",
            mqtt=settings.effective_mqtt_url,
            database=settings.database_url,
            log=LOG_FILE,
        ),
    ]
    return "\n".join(lines)


def _live(services: Services, language: str, header: str) -> None:
    """Redraw the board until Ctrl-C."""

    def frame() -> Group:
        with services.uow() as uow:
            cases, notes = read_board(uow.session, language)
        return board(language, header, cases, notes, services.clock.now())

    with Live(frame(), refresh_per_second=4, screen=False) as live:
        while True:
            time.sleep(REFRESH_S)
            live.update(frame())


def _lines(services: Services, language: str, header: str) -> None:
    """Print the header once, then a line per event, until Ctrl-C: a pipe or a file sees it."""
    print(header, flush=True)  # noqa: T201
    feed = Feed(language, services.tz)
    while True:
        with services.uow() as uow:
            cases, notes = read_board(uow.session, language, cases=FEED_ROWS, notes=FEED_ROWS)
        for line in feed.lines(cases, notes, services.clock.now()):
            print(line, flush=True)  # noqa: T201
        time.sleep(REFRESH_S)


def _log_to_file() -> None:
    handler = logging.FileHandler(LOG_FILE)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    install_phone_mask(root)


def _wait_for(ready: object, what: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not ready():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within {STARTUP_TIMEOUT_S:.0f} s")
        time.sleep(0.05)


def _seed(services: Services, count: int) -> list[tuple[str, str]]:
    """Demo elders with two contacts and a terminal each; a rerun gives terminals new secrets."""
    now = services.clock.now()
    rng = random.Random(7)
    credentials: list[tuple[str, str]] = []
    with services.uow() as uow:
        for i in range(count):
            device_id = f"{DEMO_PREFIX}{i + 1:03d}"
            if uow.session.get(Device, device_id) is not None:
                credentials.append((device_id, rotate_device_secret(uow.session, device_id)))
                continue
            elder = create_elder(
                uow.session,
                {
                    "name": NAMES[i % len(NAMES)],
                    "phone": f"+86138{rng.randrange(10**8):08d}",
                    "address": ADDRESS[DISTRICTS[i % len(DISTRICTS)]].format(n=i + 3),
                    "lat": 29.08 + rng.uniform(-0.02, 0.02),
                    "lon": 119.65 + rng.uniform(-0.02, 0.02),
                    "medical_notes": "高血压" if i % 2 else "",
                    "district": DISTRICTS[i % len(DISTRICTS)],
                },
                now,
            )
            assert elder.id is not None  # noqa: S101 (flush gave it one)
            for priority, relation in ((1, "女儿"), (2, "儿子")):
                add_contact(
                    uow.session,
                    elder.id,
                    {
                        "name": f"{elder.name}的{relation}",
                        "phone": f"+86139{rng.randrange(10**8):08d}",
                        "relation": relation,
                        "priority": priority,
                    },
                )
            _, secret = provision_device(uow.session, device_id, elder.id, now)
            credentials.append((device_id, secret))
        uow.commit()
    return credentials


def _seed_responders(services: Services) -> dict[str, str]:
    """Volunteers and merchants near the demo street, and fresh tokens to act as them."""
    now = services.clock.now()
    with services.uow() as uow:
        volunteers = list(uow.session.exec(select(Volunteer)).all())
        if not volunteers:
            for i, name in enumerate(("志愿者陈丽", "志愿者周强", "志愿者吴敏")):
                volunteers.append(
                    create_volunteer(
                        uow.session,
                        {
                            "name": name,
                            "phone": f"+8613700000{i:03d}",
                            "lat": 29.08 + i / 200,
                            "lon": 119.65 - i / 200,
                        },
                        now,
                    )
                )
        merchants = list(uow.session.exec(select(Merchant)).all())
        if not merchants:
            for i, (name, category) in enumerate(
                (("金华家电维修", "repair"), ("好味助餐", "meals"))
            ):
                merchants.append(
                    create_merchant(
                        uow.session,
                        {
                            "name": name,
                            "phone": f"+8613600000{i:03d}",
                            "categories": [category],
                            "lat": 29.09,
                            "lon": 119.64,
                            "rating": 4.5,
                        },
                        now,
                    )
                )
        expires = now + timedelta(days=1)
        elder_ids = [e for e in uow.session.exec(select(Elder.id)).all() if e is not None]
        tokens = {
            # The simulated families answer as a caregiver of the street's elders, so the
            # board says "caregiver:…", not that an operator took the case.
            "family": mint_token(
                uow.session,
                role=Role.CAREGIVER,
                name="演示家属",
                elder_ids=elder_ids,
                now=now,
                expires_at=expires,
            )[1],
            "operator": mint_token(
                uow.session, role=Role.OPERATOR, name="演示接线员", now=now, expires_at=expires
            )[1],
            "volunteer": mint_token(
                uow.session,
                role=Role.VOLUNTEER,
                name=volunteers[0].name,
                subject_id=volunteers[0].id,
                now=now,
                expires_at=expires,
            )[1],
            "merchant": mint_token(
                uow.session,
                role=Role.MERCHANT,
                name=merchants[0].name,
                subject_id=merchants[0].id,
                now=now,
                expires_at=expires,
            )[1],
        }
        uow.commit()
    return tokens


def _responder(base: str, token: str, stop: threading.Event) -> None:
    """Play the families: acknowledge emergencies after a while and resolve them later.

    Care requests are left to the volunteers and service requests to the operator, so the
    demo shows offers and orders too; the families resolve only the cases they took.
    """
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        while not stop.wait(2.0):
            try:
                cases = client.get("/api/v1/cases", params={"limit": 50}).json()
                now = time.time()
                for case in cases:
                    age = now - datetime.fromisoformat(case["opened_at"]).timestamp()
                    unowned = case["state"] in ("open", "dispatched", "escalated")
                    if case["kind"] == "emergency" and unowned and age > RESPONDER_DELAY_S:
                        client.post(f"/api/v1/cases/{case['id']}/ack", json={"note": "on my way"})
                    elif (
                        case["state"] == "accepted"
                        and case["owner"] == FAMILY_ACTOR
                        and age > 3 * RESPONDER_DELAY_S
                    ):
                        client.post(
                            f"/api/v1/cases/{case['id']}/resolve", json={"note": "all fine"}
                        )
            except (httpx.HTTPError, ValueError, KeyError):
                log.warning("demo responder could not reach the API", exc_info=True)
