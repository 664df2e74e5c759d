"""TLS at both edges: `vnh serve` over HTTPS, and the gateway to Mosquitto over mqtts://."""

from __future__ import annotations

import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from care_api.services import Services
from care_api.settings import Settings
from device_gateway.runtime import GatewayComponent
from tests.mosquitto import HOST, free_port, run_mosquitto
from tests.tls_cert import self_signed_cert
from vnh.cli import build_app, http_server

START_TIMEOUT_S = 30.0  # a ceiling for a loaded 2-core machine, not a speed check


@pytest.fixture
def cert(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    return self_signed_cert(tmp_path)


@pytest.fixture
def https_url(services: Services, cert: tuple[Path, Path]) -> Iterator[str]:
    certfile, keyfile = cert
    settings = Settings(
        database_url=services.settings.database_url,
        http_port=free_port(),
        http_ssl_certfile=str(certfile),
        http_ssl_keyfile=str(keyfile),
        _env_file=None,  # type: ignore[call-arg]
    )
    app, stream = build_app(settings, services)
    # The app alone: its gateway and alerts are not what this test is about.
    app.router.lifespan_context = _no_lifespan
    server = http_server(settings, app, stream)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"https://{HOST}:{settings.http_port}"
    finally:
        server.should_exit = True
        thread.join(START_TIMEOUT_S)


class _NoLifespan:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


def _no_lifespan(app: object) -> _NoLifespan:
    return _NoLifespan()


def test_tls_serve_speaks_https_with_the_configured_certificate(
    https_url: str, cert: tuple[Path, Path]
) -> None:
    trusting = ssl.create_default_context(cafile=str(cert[0]))
    with httpx.Client(verify=trusting, timeout=10) as client:
        assert client.get(f"{https_url}/healthz").status_code == 200
    with httpx.Client(timeout=10) as client, pytest.raises(httpx.ConnectError):
        client.get(f"{https_url}/healthz")  # a client that does not trust it is refused


def test_tls_gateway_reaches_mosquitto_over_mqtts_trusting_the_broker_certificate(
    services: Services, cert: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    certfile, keyfile = cert
    tls_port = free_port()
    conf = "\n".join(
        [f"listener {tls_port} {HOST}", f"certfile {certfile}", f"keyfile {keyfile}", "user root"]
    )
    # A private CA (here: the self-signed certificate itself) is trusted through OpenSSL's
    # SSL_CERT_FILE, which the gateway's default TLS context reads.
    monkeypatch.setenv("SSL_CERT_FILE", str(certfile))
    with run_mosquitto(tmp_path, conf):
        settings = Settings(
            database_url=services.settings.database_url,
            mqtt_url=f"mqtts://{HOST}:{tls_port}",
            mqtt_client_id=f"gw-{uuid.uuid4().hex[:8]}",
            _env_file=None,  # type: ignore[call-arg]
        )
        gateway = GatewayComponent(settings, services)
        gateway.start()
        try:
            assert gateway.health()["mqtt_connected"]
        finally:
            gateway.stop()
