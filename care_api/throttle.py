"""Failed logins slow their source down: bearer tokens, broker logins, webhook signatures.

A source (an IP address) gets a few failures free; each failure after those shuts it out for
twice as long as the one before, up to a ceiling, and a quiet spell forgets it. While shut
out, its attempts are refused without being checked, so guessing a token, a terminal's
secret or the Twilio auth token costs the guesser time, not us CPU. Success resets nothing:
someone holding one valid token must not be able to wipe their record of bad guesses.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


class Gate(StrEnum):
    """The doors a source can fail at; each keeps its own record of sources."""

    BEARER = "bearer_token"
    MQTT = "mqtt_login"
    WEBHOOK = "webhook_signature"
    # Wrong staff passwords from one address, whatever the username: guessing one password
    # across many usernames (which the per-username lockout does not see) slows down too.
    STAFF_LOGIN = "staff_password"


# Enough for a person who mistyped a token or a terminal with a stale secret a few times.
FREE_FAILURES = 5
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 300.0
# A source that failed nothing for this long starts afresh.
FORGET_AFTER_S = 900.0
# Bounds the memory an attacker with many addresses can make us spend; the oldest go first.
MAX_SOURCES = 10_000


@dataclass
class _Record:
    failures: int = 0
    last_failure: datetime | None = None
    blocked_until: datetime | None = None


@dataclass
class FailureThrottle:
    """The failures of one gate, per source, with the backoff they earn."""

    free_failures: int = FREE_FAILURES
    first_backoff_s: float = FIRST_BACKOFF_S
    max_backoff_s: float = MAX_BACKOFF_S
    forget_after_s: float = FORGET_AFTER_S
    max_sources: int = MAX_SOURCES
    failures_total: int = 0
    refused_total: int = 0
    _sources: OrderedDict[str, _Record] = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def retry_after(self, source: str, now: datetime) -> float | None:
        """Seconds `source` must still wait (and this attempt is counted as refused), or None."""
        with self._lock:
            record = self._sources.get(source)
            if record is None or record.blocked_until is None or record.blocked_until <= now:
                return None
            self.refused_total += 1
            return (record.blocked_until - now).total_seconds()

    def failed(self, source: str, now: datetime) -> float | None:
        """Note a failure of `source`; returns how long it is now shut out, if it is."""
        with self._lock:
            self.failures_total += 1
            record = self._sources.pop(source, None) or _Record()
            quiet = timedelta(seconds=self.forget_after_s)
            if record.last_failure is not None and now - record.last_failure > quiet:
                record = _Record()
            record.failures += 1
            record.last_failure = now
            self._sources[source] = record  # to the end: the most recently failed
            while len(self._sources) > self.max_sources:
                self._sources.popitem(last=False)
            over = record.failures - self.free_failures
            if over <= 0:
                return None
            backoff = min(self.first_backoff_s * 2.0 ** min(over - 1, 32), self.max_backoff_s)
            record.blocked_until = now + timedelta(seconds=backoff)
            return backoff

    def blocked_sources(self, now: datetime) -> int:
        """How many sources are shut out at `now`."""
        with self._lock:
            return sum(
                1 for r in self._sources.values() if r.blocked_until and r.blocked_until > now
            )


@dataclass
class AuthThrottles:
    """One throttle per gate, shared by every part of the process."""

    gates: dict[Gate, FailureThrottle] = field(
        default_factory=lambda: {gate: FailureThrottle() for gate in Gate}
    )

    @classmethod
    def configured(cls, free_failures: int, max_backoff_s: float) -> AuthThrottles:
        """Throttles with the settings' free failures and backoff ceiling at every gate."""
        return cls(
            {
                gate: FailureThrottle(free_failures=free_failures, max_backoff_s=max_backoff_s)
                for gate in Gate
            }
        )

    def __getitem__(self, gate: Gate) -> FailureThrottle:
        return self.gates[gate]
