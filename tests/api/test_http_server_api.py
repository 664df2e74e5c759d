"""The app behind a real uvicorn server on a free port, spoken to over real HTTP."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import uvicorn

from care_api.http.app import create_app
from care_api.services import Services
from tests.api.support import ADMIN
from tests.helpers import seed_elder

STARTUP_TIMEOUT_S = 60.0  # a ceiling for a loaded 2-core machine, not a speed check
ANSWER_TIMEOUT_S = 30.0  # the same: 5 s ran out once with the suite on both cores


def test_http_server_serves_health_and_an_authenticated_route(services: Services) -> None:
    elder_id, _ = seed_elder(services)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(services), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=ANSWER_TIMEOUT_S) as client:
            health = client.get("/healthz")
            assert (health.status_code, health.json()["status"]) == (200, "ok")
            elder = client.get(f"/api/v1/elders/{elder_id}", headers=ADMIN)
            assert (elder.status_code, elder.json()["name"]) == (200, "Wang Fang")
            assert client.get(f"/api/v1/elders/{elder_id}").status_code == 401
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_S)
        sock.close()
    assert not thread.is_alive()
