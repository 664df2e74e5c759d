"""Create simulated elders and their terminals through the service's public HTTP API."""

from __future__ import annotations

import logging
from typing import Any

import httpx

log = logging.getLogger(__name__)

HTTP_TIMEOUT_S = 10.0
HTTP_CONFLICT = 409
HTTP_NOT_FOUND = 404
BASE_LAT = 29.1  # Jinhua
BASE_LON = 119.6
GRID_STEP_DEG = 0.002  # about 200 m between neighbours
GRID_WIDTH = 50
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ("秀英", "桂英", "玉兰", "建国", "国华", "淑珍", "德明", "志强", "凤英", "文华")


class ProvisionError(RuntimeError):
    """The API refused a provisioning call; the message names the call and its `detail`."""

    def __init__(self, method: str, url: str, status: int, detail: object) -> None:
        super().__init__(f"{method} {url} → {status}: {detail}")
        self.status = status
        self.detail = detail


def _detail(response: httpx.Response) -> object:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    return body.get("detail", body) if isinstance(body, dict) else body


class _Api:
    """Thin JSON-over-HTTP helper that turns error responses into ProvisionError."""

    def __init__(self, client: httpx.Client, api_url: str, token: str) -> None:
        self._client = client
        self._base = api_url.rstrip("/") + "/api/v1"
        self._headers = {"Authorization": f"Bearer {token}"}

    def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        url = self._base + path
        try:
            return self._client.post(url, json=body, headers=self._headers)
        except httpx.HTTPError as exc:
            raise ProvisionError("POST", url, 0, f"no answer: {exc}") from exc

    @staticmethod
    def body(response: httpx.Response, *ok: int) -> dict[str, Any]:
        request = response.request
        if response.status_code not in ok:
            raise ProvisionError(
                request.method, str(request.url), response.status_code, _detail(response)
            )
        data = response.json()
        if not isinstance(data, dict):
            raise ProvisionError(request.method, str(request.url), response.status_code, data)
        return data


def _elder(i: int, prefix: str) -> dict[str, Any]:
    name = _SURNAMES[i % len(_SURNAMES)] + _GIVEN[(i // len(_SURNAMES)) % len(_GIVEN)]
    return {
        "name": f"{name} ({prefix}{i + 1:04d})",
        "phone": f"+86139{i + 1:08d}",
        "address": f"{prefix} simulated street {i + 1}, Jinhua",
        "lat": round(BASE_LAT + (i % GRID_WIDTH) * GRID_STEP_DEG, 6),
        "lon": round(BASE_LON + (i // GRID_WIDTH) * GRID_STEP_DEG, 6),
    }


def _contact(i: int) -> dict[str, Any]:
    return {
        "name": f"{_SURNAMES[i % len(_SURNAMES)]}女士",
        "phone": f"+86138{i + 1:08d}",
        "relation": "daughter",
        "priority": 1,
    }


def _provision_one(api: _Api, i: int, prefix: str, hub_port: str | None) -> tuple[str, str]:
    device_id = f"{prefix}{i + 1:04d}"
    rotate = f"/devices/{device_id}/rotate-secret"
    # Rotating first makes a second run reuse the device instead of adding an orphan elder.
    response = api.post(rotate)
    if response.status_code != HTTP_NOT_FOUND:
        return device_id, str(api.body(response, 200, 201)["secret"])
    elder = api.body(api.post("/elders", _elder(i, prefix)), 200, 201)
    elder_id = elder["id"]
    api.body(api.post(f"/elders/{elder_id}/contacts", _contact(i)), 200, 201)
    device: dict[str, Any] = {"device_id": device_id, "elder_id": elder_id}
    if hub_port is not None:  # behind a serial hub: the gateway's name for that line
        device["hub_port"] = hub_port
    response = api.post("/devices", device)
    if response.status_code == HTTP_CONFLICT:
        return device_id, str(api.body(api.post(rotate), 200, 201)["secret"])
    return device_id, str(api.body(response, 200, 201)["secret"])


def provision(
    api_url: str,
    token: str,
    n: int,
    prefix: str = "SIM",
    *,
    client: httpx.Client | None = None,
    hub_port: str | None = None,
) -> list[tuple[str, str]]:
    """Make `n` elders with a contact and a terminal `{prefix}0001`…; returns (device_id, secret).

    A device that already exists gets a new secret instead (its `hub_port` is kept: the API
    cannot change it). Raises ProvisionError.
    """
    if n < 0:
        raise ValueError("n must not be negative")
    own = client is None
    http = client or httpx.Client(timeout=HTTP_TIMEOUT_S)
    try:
        api = _Api(http, api_url, token)
        out = [_provision_one(api, i, prefix, hub_port) for i in range(n)]
    finally:
        if own:
            http.close()
    log.info("provisioned %d simulated terminals %s0001…", n, prefix)
    return out
