"""A notification provider that fails: messages retried with backoff, sent once, cases kept."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.provision import provision
from tests.faults.support import ServeProcess, make_fleet
from tests.mosquitto import run_mosquitto
from tests.twilio_server import RecordingTwilioServer

pytestmark = pytest.mark.slow

TERMINALS = 3
WAIT_S = 45.0  # the first retry is due 10 s after a failure (alerts.sender.RETRY_BACKOFF_S)


def wait_for_rows(serve: ServeProcess, predicate: str, check: object, timeout_s: float = WAIT_S):
    deadline = time.monotonic() + timeout_s
    while True:
        rows = serve.api("GET", "/notifications", params={"limit": 200})
        if check(rows):  # type: ignore[operator]
            return rows
        assert time.monotonic() < deadline, f"{predicate} not reached: {rows}"
        time.sleep(0.2)  # polling the API


def test_notifier_outage_retries_with_backoff_and_sends_each_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'vnh.db'}"
    with (
        RecordingTwilioServer() as twilio,
        run_mosquitto(tmp_path) as mqtt,
        ServeProcess(
            tmp_path,
            VNH_DATABASE_URL=url,
            VNH_MQTT_URL=mqtt.url,
            VNH_TWILIO_ACCOUNT_SID=twilio.account_sid,
            VNH_TWILIO_AUTH_TOKEN=twilio.auth_token,
            VNH_TWILIO_FROM="+8657900000000",
            VNH_TWILIO_API_URL=twilio.base_url,
            VNH_PUBLIC_URL="https://vnh.example.org",
        ) as serve,
    ):
        serve.start()
        credentials = provision(serve.api_url, serve.token, TERMINALS, "N")
        twilio.fail_next(100, status=503)  # the provider is down for every first attempt
        with make_fleet(mqtt.url, credentials) as fleet:
            fleet.start(WAIT_S)
            events = [terminal.press("long") for terminal in fleet.terminals]
            acks = [event.wait(WAIT_S) for event in events]
            assert all(a is not None and a["status"] == "accepted" for a in acks), acks
            cases = {a["case"] for a in acks if a is not None}
            assert len(cases) == TERMINALS

            def alerts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
                return [
                    r for r in rows if r["channel"] in ("sms", "voice") and r["case_id"] in cases
                ]

            # The failure shows in the outbox the console reads, with when it is tried again.
            failed = wait_for_rows(
                serve,
                "every alert failed once",
                lambda rows: (
                    {r["case_id"] for r in alerts(rows)} == cases
                    and all(r["status"] == "failed" for r in alerts(rows))
                ),
            )
            assert all("retry in 10 s" in str(r["detail"]) for r in alerts(failed)), failed
            down = len(twilio.received)
            twilio.recover()
            sent = wait_for_rows(
                serve,
                "every alert sent",
                lambda rows: all(r["status"] in ("queued", "sent") for r in alerts(rows)),
            )

        # Each row went out once: one successful request each, however often it was tried.
        rows = alerts(sent)
        assert all(r["attempts"] == 2 and r["provider_id"] for r in rows), rows
        resource = {"sms": "Messages", "voice": "Calls"}
        delivered = Counter((r.resource, r.form.get("To")) for r in twilio.received[down:])
        assert delivered == Counter((resource[r["channel"]], r["to"]) for r in rows)
        providers = [r["provider_id"] for r in rows]
        assert len(set(providers)) == len(providers)
        for case_id in cases:  # no case was lost because an SMS could not go out
            assert serve.api("GET", f"/cases/{case_id}")["state"] in ("open", "dispatched")
