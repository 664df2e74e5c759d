"""Time single sign-on round trips against the local OpenID Connect stand-in (tests/)."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from urllib.parse import urlparse

import requests
from fastapi.testclient import TestClient
from pydantic import SecretStr

from care_api.http.app import create_app
from care_api.services import build_services
from care_api.settings import Settings
from care_api.usecases.people.staff import add_user
from tests.fakes import FakeClock
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, running_provider

ROUNDS = 50


def main() -> None:
    """Console → IdP → callback → signed in, ROUNDS times; prints the median and p90."""
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # the stand-in is plain HTTP on 127.0.0.1
    with tempfile.TemporaryDirectory() as tmp, running_provider() as idp:
        idp.claims = {"preferred_username": "li.na"}
        settings = Settings(
            database_url=f"sqlite:///{tmp}/sso.db",
            oidc_issuer=idp.issuer,
            oidc_client_id=CLIENT_ID,
            oidc_client_secret=SecretStr(CLIENT_SECRET),
            _env_file=None,  # type: ignore[call-arg]
        )
        clock = FakeClock()
        services = build_services(settings, clock=clock)
        with services.uow() as uow:
            add_user(
                uow.session, username="li.na", role="operator", password="x" * 12, now=clock.now()
            )
            uow.commit()
        times = []
        with TestClient(create_app(services)) as api:
            for _ in range(ROUNDS):
                began = time.perf_counter()
                start = api.get("/api/v1/session/sso/login", follow_redirects=False)
                at_idp = requests.get(start.headers["location"], allow_redirects=False, timeout=5)
                back = urlparse(at_idp.headers["location"])
                done = api.get(f"{back.path}?{back.query}", follow_redirects=False)
                if done.headers["location"] != "/?sso=ok#/board":
                    raise SystemExit(f"not signed in: {done.headers['location']}")
                times.append(time.perf_counter() - began)
                api.cookies.clear()
        services.close()
    times.sort()
    median, p90 = statistics.median(times) * 1000, times[int(ROUNDS * 0.9)] * 1000
    sys.stdout.write(f"{ROUNDS} sign-ins: median {median:.1f} ms, p90 {p90:.1f} ms\n")


if __name__ == "__main__":
    main()
