"""What the API tests share: the TestClient import, the admin header, token minting."""

from __future__ import annotations

import warnings

from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # Starlette asks for httpx2 for its TestClient; the venv has httpx, which still works.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

__all__ = ["ADMIN", "ADMIN_TOKEN", "TestClient", "bearer", "mint"]

ADMIN_TOKEN = "admin-token-for-tests"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def mint(api: TestClient, role: str, name: str = "Someone", **more: object) -> dict[str, str]:
    """Mint a token through the API as the admin; returns the header that carries it."""
    resp = api.post("/api/v1/tokens", json={"role": role, "name": name, **more}, headers=ADMIN)
    assert resp.status_code == 201, resp.text
    return bearer(resp.json()["token"])
