"""Who may connect to the embedded broker, and the topic ACL of PROTOCOL.md it enforces."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from care_api.domain.clock import Clock, SystemClock
from care_api.throttle import FailureThrottle
from device_gateway.protocol.checks import is_device_id
from device_gateway.protocol.topics import (
    DOWN_LEAF,
    STATUS_LEAF,
    TOPIC_PREFIX,
    UP_LEAF,
    down_topic,
    parse_topic,
    status_topic,
    up_topic,
)

log = logging.getLogger(__name__)

DeviceVerifier = Callable[[str, str], bool]  # (device_id, secret) → may it log in

_GATEWAY_READS = frozenset({UP_LEAF, STATUS_LEAF})
_ANY_DEVICE = "+"


@dataclass(frozen=True, slots=True)
class BrokerAccess:
    """The broker's rules: the gateway by its own login, each terminal by its id and secret.

    A terminal connects with client id = username = its device id and may publish only its
    own `up` and `status`, subscribe to and receive only its own `down`. The gateway may read
    every `up` and `status` and write every `down`, nothing else.
    """

    gateway_username: str
    gateway_password: str = field(repr=False)
    verify_device: DeviceVerifier = field(repr=False)
    # Failed logins per source address, with backoff; None: no throttling (tests, tools).
    throttle: FailureThrottle | None = field(default=None, repr=False)
    clock: Clock = field(default_factory=SystemClock, repr=False)

    def admits(
        self,
        client_id: str | None,
        username: str | None,
        password: str | None,
        will: str | None,
        source: str | None = None,
    ) -> bool:
        """May this CONNECT go ahead; `will` is its last-will topic, if it has one.

        `source` is the client's address: after a few failed logins from it, its logins are
        refused unchecked for a while (backoff), except the gateway's own with its password,
        so that someone failing on the gateway's host cannot lock the gateway out.
        Runs the device check, which may read the database: call it off the event loop.
        """
        throttle = self.throttle if source is not None else None
        if throttle is None or source is None:
            return self._admits(client_id, username, password, will)
        now = self.clock.now()
        if not self._is_gateway_login(username, password):
            wait = throttle.retry_after(source, now)
            if wait is not None:
                log.info("broker login from %s refused unchecked: %.0f s to wait", source, wait)
                return False
        if self._admits(client_id, username, password, will):
            return True
        if throttle.failed(source, now) is not None:
            log.warning("broker logins from %s refused for a while: too many failures", source)
        return False

    def _is_gateway_login(self, username: str | None, password: str | None) -> bool:
        return (
            username == self.gateway_username
            and password is not None
            and hmac.compare_digest(password.encode(), self.gateway_password.encode())
        )

    def _admits(
        self, client_id: str | None, username: str | None, password: str | None, will: str | None
    ) -> bool:
        if username is None or password is None:
            log.info("broker login refused for client %s: no username or password", client_id)
            return False
        if username == self.gateway_username:
            if not hmac.compare_digest(password.encode(), self.gateway_password.encode()):
                log.warning("broker login refused: wrong password for the gateway user")
                return False
        elif client_id != username or not is_device_id(username):
            # Else one terminal could take over another's session under its own login.
            log.warning("broker login refused: client id %r is not the username", client_id)
            return False
        elif not self.verify_device(username, password):
            return False
        if will is not None and not self.may_publish(username, will):
            # amqtt publishes a will without the ACL check an ordinary publish gets.
            log.warning("broker login refused: %s may not leave a will on %s", username, will)
            return False
        return True

    def may_publish(self, username: str | None, topic: str) -> bool:
        """The gateway writes any `down`; a terminal its own `up` and `status`."""
        if username is None:
            return False
        if username == self.gateway_username:
            parsed = parse_topic(topic)
            return parsed is not None and parsed[1] == DOWN_LEAF
        return is_device_id(username) and topic in (up_topic(username), status_topic(username))

    def may_subscribe(self, username: str | None, topic_filter: str) -> bool:
        """The gateway to `up` and `status` (of all or one); a terminal to its own `down`."""
        if username is None:
            return False
        if username == self.gateway_username:
            return _is_gateway_filter(topic_filter)
        return is_device_id(username) and topic_filter == down_topic(username)

    def may_receive(self, username: str | None, topic: str) -> bool:
        """What a subscriber is handed: the same rule as subscribing, per message."""
        if username is None:
            return False
        if username == self.gateway_username:
            parsed = parse_topic(topic)
            return parsed is not None and parsed[1] in _GATEWAY_READS
        return is_device_id(username) and topic == down_topic(username)


def _is_gateway_filter(topic_filter: str) -> bool:
    prefix = TOPIC_PREFIX + "/"
    if not topic_filter.startswith(prefix):
        return False
    device, sep, leaf = topic_filter[len(prefix) :].partition("/")
    return bool(sep) and leaf in _GATEWAY_READS and (device == _ANY_DEVICE or is_device_id(device))
