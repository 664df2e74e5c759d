"""Secrets come from VNH_* variables or files in VNH_SECRETS_DIR, and stay out of reprs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from care_api.settings import Settings
from device_gateway.broker_login import gateway_address
from device_gateway.transports.broker_access import BrokerAccess


def _settings(**more: Any) -> Settings:
    return Settings(_env_file=None, **more)  # type: ignore[call-arg]


@pytest.fixture
def secrets_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("VNH_ADMIN_TOKEN", "VNH_MQTT_PASSWORD", "VNH_TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VNH_SECRETS_DIR", str(tmp_path))
    (tmp_path / "VNH_ADMIN_TOKEN").write_text("admin-from-file\n")
    (tmp_path / "VNH_MQTT_PASSWORD").write_text("mqtt-from-file")
    return tmp_path


def test_settings_secrets_are_read_from_the_secrets_dir(secrets_dir: Path) -> None:
    settings = _settings()
    assert settings.admin_token == SecretStr("admin-from-file")
    assert settings.mqtt_password == SecretStr("mqtt-from-file")
    assert settings.twilio_auth_token is None


def test_settings_environment_wins_over_a_secret_file(
    secrets_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VNH_ADMIN_TOKEN", "admin-from-env")
    assert _settings().admin_token == SecretStr("admin-from-env")


def test_settings_secrets_never_show_in_repr(secrets_dir: Path) -> None:
    settings = _settings()
    assert "admin-from-file" not in repr(settings)
    assert "mqtt-from-file" not in str(settings)


def test_gateway_address_url_credentials_win_over_the_default_username() -> None:
    address = gateway_address(_settings(mqtt_url="mqtts://gw-7:pw@broker.example:8883"))
    assert (address.username, address.password, address.tls) == ("gw-7", "pw", True)
    assert "pw" not in repr(address) and "pw" not in str(address)


def test_gateway_address_explicit_username_and_password() -> None:
    settings = _settings(
        mqtt_url="mqtt://broker.example", mqtt_username="gw-2", mqtt_password=SecretStr("s")
    )
    address = gateway_address(settings)
    assert (address.username, address.password) == ("gw-2", "s")
    default = gateway_address(_settings(mqtt_url="mqtt://broker.example"))
    assert (default.username, default.password) == ("vnh-gateway", None)


def test_gateway_address_embedded_uses_the_brokers_own_gateway_login() -> None:
    access = BrokerAccess("vnh-gateway", "made-up-at-start", verify_device=lambda d, s: False)
    address = gateway_address(_settings(), access)
    assert (address.host, address.username, address.password) == (
        "127.0.0.1",
        "vnh-gateway",
        "made-up-at-start",
    )
