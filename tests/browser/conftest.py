"""The real service under uvicorn on a free port, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import importlib.util
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn
from pydantic import SecretStr

from care_api.http.app import create_app
from care_api.http.case_stream import CaseStream
from care_api.http.console_server import GRACEFUL_SHUTDOWN_S, ConsoleAwareServer
from care_api.services import Services, build_services
from care_api.settings import Settings
from tests.fakes import FakeClock

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
# Playwright cannot download its own browser here; Debian's chromium is driven instead.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_TOKEN = "admin-token-for-browser-tests"
STARTUP_TIMEOUT_S = 60.0  # a ceiling for a loaded 2-core machine, not a speed check
SHUTDOWN_TIMEOUT_S = 10.0
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def _require_browser() -> None:
    # In CI a missing browser is a failure: a console nobody tested must not pass as green.
    give_up = pytest.fail if os.environ.get("CI") else pytest.skip
    if not CHROMIUM.exists():
        give_up(f"{CHROMIUM} is missing: `apt-get install -y chromium` (make test does it)")
    if importlib.util.find_spec("playwright") is None:
        give_up("playwright is missing: `pip install playwright` (no `playwright install`)")


@dataclass
class LiveConsole:
    """The running service: its address, its services (to press buttons), its fan-out."""

    base_url: str
    services: Services
    clock: FakeClock
    stream: CaseStream


@pytest.fixture
def browser_services(sqlite_url: str, clock: FakeClock) -> Iterator[Services]:
    settings = Settings(
        database_url=sqlite_url,
        admin_token=SecretStr(ADMIN_TOKEN),
        _env_file=None,  # type: ignore[call-arg]
    )
    svc = build_services(settings, clock=clock)
    yield svc
    svc.close()


def _gateway_health() -> dict[str, object]:
    # What GatewayComponent.health() reports with one serial hub whose cable was pulled.
    hub = {
        "state": "retrying",
        "last_error": "device disconnected",
        "lines_in": 12,
        "lines_out": 12,
        "naks": 0,
    }
    return {"broker": "embedded", "mqtt_connected": True, "serial": {"/dev/ttyUSB0": hub}}


@pytest.fixture
def live_console(browser_services: Services, clock: FakeClock) -> Iterator[LiveConsole]:
    """The app with the console router, served by uvicorn in a thread on a free port."""
    _require_browser()
    stream = CaseStream(browser_services.bus)
    app = create_app(
        browser_services,
        stream=stream,
        health_checks={"gateway": _gateway_health},
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", lifespan="on", timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S
    )
    # It ends the open event streams when it stops, as `vnh serve` should.
    server = ConsoleAwareServer(config, streams=[stream])
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        yield LiveConsole(f"http://127.0.0.1:{port}", browser_services, clock, stream)
    finally:
        server.should_exit = True
        thread.join(timeout=SHUTDOWN_TIMEOUT_S)
        sock.close()
    assert not thread.is_alive(), "server did not stop"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One Chromium per test process; every test gets its own context (no shared storage)."""
    # Per module it was launched again for each of the 16 modules in each worker they reach.
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser, live_console: LiveConsole) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live_console.base_url,
        viewport={"width": 1440, "height": 900},
        locale="en-GB",
        timezone_id="Asia/Shanghai",
    )
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    failed: list[str] = []
    tab.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    try:
        yield tab
    finally:
        context.close()
    # A script error in the console is a failed test even if every assertion held. Refused
    # input (409, 422) is not one: a form shows it beside the field, and the test checks that;
    # nor are the loads a test fails on purpose by taking the browser offline.
    # A locked-out sign-in (429) is shown on the login form, which the test checks.
    refusals = (
        "401",
        "status of 409",
        "status of 422",
        "status of 429",
        "net::ERR_INTERNET_DISCONNECTED",
    )
    assert not [e for e in errors if not any(r in e for r in refusals)], (errors, failed)


@pytest.fixture
def screenshot(page: Page) -> Callable[[str], Path]:
    """`screenshot(name)` saves the page to test-artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
