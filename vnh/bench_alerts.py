"""`vnh bench`'s alert phase: emergencies at a steady rate, and how soon each reaches Twilio.

Each press comes from a terminal of its own (seeded before the service starts), so each
opens an emergency and starts its ladder. The figure is the storm bench's: case commit →
the first request to the local Twilio stand-in for that elder's family, with one MQTT
client speaking for all the terminals as there.
"""

from __future__ import annotations

import time
from typing import Any

from vnh.bench_storm import (
    PRESS_PREFIX,
    Phase,
    Terminals,
    TwilioStandIn,
    _phase_figures,
    press_for,
    seed,
)

ACK_WAIT_S = 60.0
ALERT_WAIT_S = 30.0
POLL_S = 0.1
SPARE = 10  # terminals beyond rate × seconds: pacing may fit in one press more


class AlertPhase:
    """Seeds its terminals at once (before the service starts); `run` presses and measures."""

    def __init__(
        self, database_url: str, twilio: TwilioStandIn, rate: float, seconds: float
    ) -> None:
        self._database_url = database_url
        self._twilio = twilio
        self._rate = rate
        self._seconds = seconds
        self._phones = seed(database_url, 0, int(rate * seconds) + SPARE)

    def run(self, mqtt_url: str) -> dict[str, Any]:
        """Press at the rate for the seconds, wait for acks and alerts; the phase's figures."""
        pressers = sorted((d for d in self._phones if d.startswith(PRESS_PREFIX)), reverse=True)
        terminals = Terminals(mqtt_url)
        try:
            phase = Phase()
            press_for(terminals, pressers, self._rate, self._seconds, phase)
            terminals.wait_acked(phase.keys, ACK_WAIT_S)
            self._wait_alerted({self._phones[d] for d, _ in phase.keys})
            figures = _phase_figures(
                terminals, phase, self._twilio, self._phones, self._database_url
            )
        finally:
            terminals.close()
        return {"rate": self._rate, "seconds": self._seconds, **figures}

    def _wait_alerted(self, phones: set[str]) -> None:
        deadline = time.monotonic() + ALERT_WAIT_S
        while time.monotonic() < deadline:
            if phones <= {to for _, _, to in list(self._twilio.requests)}:
                return
            time.sleep(POLL_S)  # polling what the stand-in has received
