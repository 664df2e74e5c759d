"""How long the hotline's webhooks take: N elders call in and press 1 (SQLite file, one process).

Run: .venv/bin/python -m tests.bench.hotline_timing [N]
Prints the median and 95th percentile of the first answer (the menu) and of the key press
(case opened, operators dialled), through signed requests as Twilio sends them.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from twilio.request_validator import RequestValidator

from alerts import webhooks
from care_api.http.app import create_app
from care_api.services import build_services
from care_api.settings import Settings
from care_api.usecases.people.registry import create_elder
from care_api.usecases.schedules.rotas import add_shift
from tests.api.support import TestClient

TOKEN = "timing-auth-token-0123456789abcdef"
PUBLIC = "https://vnh.example.org"


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(  # type: ignore[call-arg]
            database_url=f"sqlite:///{Path(tmp) / 'vnh.db'}",
            twilio_account_sid="AC" + "0" * 32,
            twilio_auth_token=TOKEN,
            twilio_from="+15005550006",
            public_url=PUBLIC,
            _env_file=None,
        )
        services = build_services(settings)
        now = services.clock.now()
        with services.uow() as uow:
            for i in range(n):
                create_elder(uow.session, {"name": f"E{i}", "phone": f"+86138{i:08d}"}, now)
            shift = {"person": "Op", "role": "operator", "phone": "+8613700000001"}
            shift |= {"start": now - timedelta(hours=1), "end": now + timedelta(hours=8)}
            add_shift(uow.session, shift, by="admin", now=now)
            uow.commit()
        validator = RequestValidator(TOKEN)
        first: list[float] = []
        key: list[float] = []
        with TestClient(create_app(services, routers=[webhooks.router])) as client:
            for i in range(n):
                sid = f"CA{i:032d}"
                for path, params, into in (
                    ("/webhooks/twilio/voice", {"From": f"+86138{i:08d}"}, first),
                    ("/webhooks/twilio/voice/menu", {"Digits": "1"}, key),
                ):
                    form = {"CallSid": sid, "Direction": "inbound", **params}
                    signature = validator.compute_signature(PUBLIC + path, form)
                    start = time.perf_counter()
                    response = client.post(
                        path, data=form, headers={"X-Twilio-Signature": signature}
                    )
                    into.append((time.perf_counter() - start) * 1000)
                    assert response.status_code == 200, response.text
        services.close()
    for name, values in (("menu", first), ("key 1", key)):
        p95 = statistics.quantiles(values, n=20)[-1]
        print(  # noqa: T201
            f"{name}: median {statistics.median(values):.1f} ms, p95 {p95:.1f} ms over {n}"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
