"""GatewayComponent: broker (when embedded), MQTT transport, pipeline and case news, wired."""

from __future__ import annotations

import gc
import logging
import sys
import threading

from care_api.domain.events import DeviceLoginRevoked, DomainEvent
from care_api.services import Services
from care_api.settings import Settings
from care_api.store.heartbeat_book import HeartbeatFlusher
from care_api.usecases.fleet.broker_passwords import broker_name_problem
from device_gateway.broker_login import embedded_access, gateway_address
from device_gateway.commands import CommandSender
from device_gateway.downlink import CaseNewsSender, DownlinkRouter
from device_gateway.pipeline import Pipeline
from device_gateway.transports.dc09 import Dc09Transport
from device_gateway.transports.embedded_broker import EmbeddedBroker
from device_gateway.transports.mqtt import MqttTransport, worker_client_id
from device_gateway.transports.serial import SerialTransport
from device_gateway.transports.watch import WatchTransport

log = logging.getLogger(__name__)

# How long start() waits for the first subscription; past it the transport keeps retrying
# in the background, so a broker that is down does not stop the service from starting.
READY_TIMEOUT_S = 10.0
# How long a thread may keep the interpreter while another asks for it (CPython's default
# 5 ms). A worker lets the interpreter go at every statement and commit; each time the case
# news, the alerts or the MQTT thread were computing meanwhile, it waited the whole interval
# to get it back: 13 ms a batch of 1 ms CPU beside a busy thread, 1.4 ms with 1 ms.
GIL_SWITCH_S = 0.001


class _ShortSwitch:
    """The process's switch interval, short while at least one gateway runs.

    Counted, not saved per gateway: two gateways of one process (tests, `$share` trials)
    stopped in the order they started would otherwise leave the short interval behind.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._before = 0.0

    def acquire(self) -> None:
        with self._lock:
            if self._users == 0:
                self._before = sys.getswitchinterval()
                sys.setswitchinterval(min(self._before, GIL_SWITCH_S))
            self._users += 1

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                sys.setswitchinterval(self._before)


_SHORT_SWITCH = _ShortSwitch()


class GatewayComponent:
    """The device gateway as one start/stop component of the service.

    Serial hubs add a `SerialTransport` per configured port, started with the same
    `pipeline.offer` handler; replies find their way back through the router.
    """

    def __init__(
        self,
        settings: Settings,
        services: Services,
        *,
        ready_timeout_s: float = READY_TIMEOUT_S,
        freeze_heap: bool = False,
    ) -> None:
        self._settings = settings
        # Only a process the gateway lives as long as (`vnh serve`) freezes: in one that
        # starts many, what died while frozen would wait until the process ends.
        self._freeze_heap = freeze_heap
        self._services = services
        self._ready_timeout_s = ready_timeout_s
        self._broker: EmbeddedBroker | None = None
        self._mqtt: MqttTransport | None = None
        self._pipeline: Pipeline | None = None
        self._news: CaseNewsSender | None = None
        self._serial: list[SerialTransport] = []
        self._commands: CommandSender | None = None
        self._flusher: HeartbeatFlusher | None = None
        self._dc09: Dc09Transport | None = None
        self._watch: WatchTransport | None = None
        self._short_switch = False  # holds the short interval (put back by the last to stop)
        self._froze = False  # whether start froze the heap, for stop to thaw

    def start(self) -> None:
        """Start broker (if embedded), workers, case news, then the MQTT connection."""
        if not self._short_switch:
            _SHORT_SWITCH.acquire()
            self._short_switch = True
        try:
            self._start()
        except BaseException:
            # A start refused (a taken address…) leaves the process's interval as it was.
            _SHORT_SWITCH.release()
            self._short_switch = False
            raise

    def _start(self) -> None:
        settings = self._settings
        # Built first: a malformed port spec stops the start before anything runs.
        serial_ports = [SerialTransport(spec) for spec in dict.fromkeys(settings.serial_ports)]
        dc09 = (
            Dc09Transport(
                settings.dc09_listen,
                idle_timeout_s=settings.dc09_idle_timeout_s,
                max_connections=settings.dc09_max_connections,
                max_per_source=settings.dc09_max_per_source,
            )
            if settings.dc09_listen
            else None
        )
        if dc09 is not None:
            dc09.listen()  # a taken address stops the start here, before anything runs
        watch = None
        if settings.watch_listen:
            watch = WatchTransport(
                settings.watch_listen,
                max_connections=settings.watch_max_connections,
                max_per_source=settings.watch_max_per_source,
                idle_timeout_s=settings.watch_idle_timeout_s,
            )
            try:
                watch.listen()  # as for DC-09: a taken address stops the start here
            except OSError:
                if dc09 is not None:
                    dc09.close()
                raise
        access = None
        if settings.mqtt_url is None:
            access = embedded_access(settings, self._services)
            self._broker = EmbeddedBroker(
                settings.embedded_mqtt_host, settings.embedded_mqtt_port, access=access
            )
            self._broker.start()
            self._services.bus.subscribe(DeviceLoginRevoked, self._end_sessions)
        address = gateway_address(settings, access)
        client_id = settings.mqtt_client_id
        if settings.mqtt_shared_group and "mqtt_client_id" not in settings.model_fields_set:
            client_id = worker_client_id()  # every member of a share group needs its own
        if settings.mqtt_url is not None and broker_name_problem(client_id) is None:
            # Client ids are one space across Mosquitto's listeners: a terminal provisioned
            # under this id would throw the gateway off every time it connects.
            log.warning("VNH_MQTT_CLIENT_ID %r could be a terminal's id; use vnh-…", client_id)
        self._mqtt = MqttTransport(
            address, client_id=client_id, shared_group=settings.mqtt_shared_group
        )
        router = DownlinkRouter(default=self._mqtt)
        self._pipeline = Pipeline(
            self._services,
            router,
            workers=settings.gateway_workers,
            inbox_size=settings.gateway_inbox_size,
        )
        self._pipeline.start()
        self._news = CaseNewsSender(self._services, router)
        self._news.start()
        # Heartbeats the pipeline keeps in memory reach the device rows in batches.
        self._flusher = HeartbeatFlusher(self._services.heartbeats, self._services.uow)
        self._flusher.start()
        self._commands = CommandSender(self._services, router)
        self._commands.start()
        self._mqtt.start(self._pipeline.offer)
        for port in serial_ports:  # each opens (and reopens) its port in the background
            port.start(self._pipeline.offer)
        self._serial = serial_ports
        if dc09 is not None:  # panels report through the same pipeline as terminals
            dc09.start(self._pipeline.offer)
            self._dc09 = dc09
        if watch is not None:  # watches too: one pipeline, one intake core
            watch.start(self._pipeline.offer)
            self._watch = watch
        if not self._mqtt.wait_ready(self._ready_timeout_s):
            log.warning("gateway started but not yet subscribed at %s; it keeps trying", address)
        if self._freeze_heap and not self._froze:
            # What the process holds once started (modules, mappers, compiled statements)
            # lives as long as it does, yet every full collection walked it all with every
            # thread stopped: 176-194 ms, twice in 20 s at 1,000 presses/s, the p99's stalls.
            # Frozen, it is left out of collections; what is made later is still collected.
            # Collected first, once: garbage of the start-up is not kept for good.
            gc.collect()
            gc.freeze()
            self._froze = True
        log.info("device gateway started (%d workers)", settings.gateway_workers)

    def stop(self) -> None:
        """Drain and stop the workers, then disconnect, then stop the embedded broker."""
        # Workers first: what they finish is acked on a connection that is still open.
        if self._pipeline is not None:
            self._pipeline.stop()
        if self._news is not None:
            self._news.stop()
        # After the workers: the flusher's last flush writes every heartbeat they took.
        for part in (self._commands, self._flusher):
            if part is not None:
                part.stop()
        self._commands = self._flusher = None
        if self._mqtt is not None:
            self._mqtt.close()
        for port in self._serial:  # kept, so that health() shows them closed
            port.close()
        if self._dc09 is not None:
            self._dc09.close()
        if self._watch is not None:
            self._watch.close()
        if self._broker is not None:
            self._services.bus.unsubscribe(DeviceLoginRevoked, self._end_sessions)
            self._broker.stop()
        self._pipeline = self._news = self._mqtt = self._broker = None
        if self._short_switch:
            _SHORT_SWITCH.release()
            self._short_switch = False
        if self._froze:
            gc.unfreeze()  # back to the oldest generation: collected again, as before start
            self._froze = False
        log.info("device gateway stopped")

    def _end_sessions(self, event: DomainEvent) -> None:
        # Mosquitto ends them itself when broker-config's reload drops the old password.
        if isinstance(event, DeviceLoginRevoked) and self._broker is not None:
            self._broker.end_session(event.device_id)

    def health(self) -> dict[str, object]:
        """What /healthz shows of the gateway."""
        report: dict[str, object] = {
            "broker": "external" if self._settings.mqtt_url else "embedded",
            "broker_running": self._broker.is_running if self._broker else None,
            "mqtt_connected": self._mqtt.is_connected if self._mqtt else False,
            "mqtt_refused": self._mqtt.refused if self._mqtt else 0,
            "inbox_depth": self._pipeline.depth if self._pipeline else 0,
            "workers_alive": self._pipeline.workers_alive if self._pipeline else 0,
        }
        if self._settings.serial_ports:
            report["serial"] = {port.port: port.health() for port in self._serial}
        if self._dc09 is not None:
            report["dc09"] = self._dc09.health()
        if self._watch is not None:
            report["watch"] = self._watch.health()
        return report
