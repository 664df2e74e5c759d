"""Time an operator's bridged call from the API request to Twilio's Calls API (in-process).

Run from the repository root: `PYTHONPATH=. .venv/bin/python scripts/measure_calls.py [N]`.
The real twilio client talks to tests/twilio_server.py; SQLite in a temporary directory.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from alerts import webhooks
from alerts.notify.outbox import OutboxNotifier
from alerts.ports import Channel
from alerts.runtime import AlertsComponent
from care_api.http.app import create_app
from care_api.services import build_services
from care_api.usecases.intake.reports import record_device_report
from tests.api.support import TestClient
from tests.conftest import make_settings
from tests.databases import migrated_sqlite_url
from tests.fakes import FakeClock
from tests.helpers import operator_header, press, seed_elder
from tests.twilio_server import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, RecordingTwilioServer


def main(count: int) -> str:
    """Place `count` bridged calls one after another; the click-to-Twilio times."""
    with tempfile.TemporaryDirectory() as tmp, RecordingTwilioServer() as twilio:
        settings = make_settings(
            migrated_sqlite_url(Path(tmp) / "calls.db"),
            twilio_account_sid=DEFAULT_ACCOUNT_SID,
            twilio_auth_token=DEFAULT_AUTH_TOKEN,
            twilio_from="+15005550006",
            twilio_api_url=twilio.base_url,
            public_url="https://vnh.example.org",
        )
        services = build_services(settings, clock=FakeClock())
        outbox = OutboxNotifier()
        alerts = AlertsComponent(
            settings, services, notifiers={Channel.sms: outbox, Channel.voice: outbox}
        )
        alerts.attach()
        try:
            api = TestClient(create_app(services, routers=[webhooks.router]))
            seed_elder(services)
            outcome = record_device_report(
                services.uow, press(), now=services.clock.now(), tz=services.tz
            )
            alerts.run_pending()
            who = operator_header(services, "Li Na")
            body = {"to": "elder", "operator_phone": "+8613700000001"}
            took: list[float] = []
            for placed in range(1, count + 1):
                start = time.perf_counter()
                api.post(f"/api/v1/cases/{outcome.case_id}/calls", json=body, headers=who)
                alerts.run_pending()  # what the engine's event thread does at once
                took.append((time.perf_counter() - start) * 1000)
                if len(twilio.calls()) != placed:
                    return f"call {placed} did not reach Twilio"
        finally:
            alerts.stop()
            services.close()
    took.sort()
    p90 = took[max(0, int(0.9 * count) - 1)]
    return (
        f"{count} bridged calls: API request to Twilio's Calls API p50 "
        f"{statistics.median(took):.1f} ms, p90 {p90:.1f} ms, max {took[-1]:.1f} ms\n"
    )


if __name__ == "__main__":
    sys.stdout.write(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50))
