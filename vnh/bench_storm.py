"""`vnh bench storm`: a district blackout while elders of that district press for help.

The service runs as `vnh serve` on its own broker with Twilio pointed at a local stand-in.
First presses arrive alone (the baseline), then the same press rate goes on while N
terminals report `power lost` within the storm's seconds. One MQTT client speaks for all
the storm's terminals (an anonymous bench broker has no per-terminal ACL) so that the
bench, not the broker's connection count, is the limit.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

import paho.mqtt.client as mqtt
import typer
from paho.mqtt.enums import CallbackAPIVersion
from rich.table import Table
from sqlalchemy import func, insert
from sqlmodel import col, select

from care_api.domain.model import CaseKind
from care_api.services import build_services
from care_api.settings import Settings
from care_api.store.incident_tables import Incident
from care_api.store.tables import Case, Contact, Device, DeviceEvent, Elder
from firmware_sim.address import BrokerAddress
from vnh.bench_load import percentile_ms
from vnh.bench_procs import HOST, Service, bench_workdir, free_port, print_report, start_broker

log = logging.getLogger(__name__)

DISTRICT = "Storm district"
STORM_PREFIX = "S"
PRESS_PREFIX = "P"
QOS = 1
INFLIGHT = 1000
BOOT = 1
PRESS_PATTERN = "long"  # an emergency
DRAIN_TIMEOUT_S = 120.0
ALERT_WAIT_S = 10.0
# Presses before the baseline, not counted: the service's first emergencies after its start
# took 200-300 ms (statements compiled, caches filled), the rest 4-12 ms, which made the
# baseline's p99 of 101 presses the start-up's and not the quiet service's.
WARMUP_PRESSES = 3
TWILIO_SID = "AC" + "0" * 32
NO_SECRET = "-"  # noqa: S105 - the bench broker is anonymous: terminals never log in
TWILIO_TOKEN = secrets.token_hex(16)


class TwilioStandIn:
    """A local server answering like Twilio's Messages and Calls API; records when and to whom."""

    def __init__(self) -> None:
        self.requests: list[tuple[float, str, str]] = []  # (time, Messages|Calls, To)
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, as Twilio's API: a new connection per message would bill the
            # service's sender (and this stand-in) for TCP set-ups the real one never asks.
            protocol_version = "HTTP/1.1"
            # The headers and the body leave in two writes: with Nagle's algorithm the body
            # waited for the client's delayed ACK of the headers, 40 ms a request, and eight
            # sending threads then managed 175 requests a second, less than 100 emergencies ask.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # noqa: ANN401
                return

            def do_POST(self) -> None:
                at = time.time()
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                resource = "Calls" if self.path.endswith("/Calls.json") else "Messages"
                to = form.get("To", [""])[0]
                with owner._lock:
                    owner.requests.append((at, resource, to))
                sid = ("CA" if resource == "Calls" else "SM") + secrets.token_hex(16)
                body = {"sid": sid, "status": "queued", "to": to, "account_sid": TWILIO_SID}
                data = json.dumps(body).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer((HOST, free_port()), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        """Where the service's Twilio client is pointed."""
        return f"http://{HOST}:{self._server.server_address[1]}"

    def service_env(self) -> dict[str, str]:
        """The settings that point `vnh serve` at this stand-in."""
        return {
            "VNH_TWILIO_ACCOUNT_SID": TWILIO_SID,
            "VNH_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "VNH_TWILIO_FROM": "+15005550006",
            "VNH_TWILIO_API_URL": self.base_url,
            "VNH_PUBLIC_URL": "http://127.0.0.1",
            # Twilio's own per-number pace is not what is measured here.
            "VNH_TWILIO_SMS_PER_S": "0",
            "VNH_SEND_MAX_PER_MINUTE": "0",
        }

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Terminals:
    """One MQTT client speaking for many terminals, timing each event's ack.

    With `resend_s`, an event without its app ack is sent again that long after it was
    last sent, with the same (boot, seq), as PROTOCOL.md has terminals do; its latency
    still counts from the first send.
    """

    mqtt_url: str
    resend_s: float = 0.0
    sent: dict[tuple[str, int], float] = field(default_factory=dict)
    acked: dict[tuple[str, int], float] = field(default_factory=dict)
    cases: dict[tuple[str, int], str | None] = field(default_factory=dict)
    resends: int = 0

    def __post_init__(self) -> None:
        address = BrokerAddress.from_url(self.mqtt_url)
        self._lock = threading.Lock()
        self._seq: dict[str, int] = {}
        # Unacked events: key -> (when last sent, topic, payload), oldest first.
        self._pending: dict[tuple[str, int], tuple[float, str, str]] = {}
        self._closed = threading.Event()
        ready = threading.Event()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"vnh-bench-storm-{secrets.token_hex(4)}"
        )
        client.max_inflight_messages_set(INFLIGHT)
        client.max_queued_messages_set(0)
        client.on_connect = lambda c, *_: c.subscribe("vnh/v1/dev/+/down", QOS)
        client.on_subscribe = lambda *_: ready.set()
        client.on_message = self._on_message
        client.connect(address.host, address.port)
        client.loop_start()
        self._client = client
        if not ready.wait(30):
            raise RuntimeError(f"could not subscribe at {self.mqtt_url}")
        self._resender: threading.Thread | None = None
        if self.resend_s > 0:
            self._resender = threading.Thread(target=self._resend, name="bench-resend", daemon=True)
            self._resender.start()

    def _resend(self) -> None:
        # The terminals' resend timers, one thread for all: the oldest pending come first.
        while not self._closed.wait(min(0.1, self.resend_s / 2)):
            due = time.monotonic() - self.resend_s
            with self._lock:
                late = []
                for key, (at, topic, payload) in self._pending.items():
                    if at > due:
                        break  # in order of last send: the rest are not due yet
                    late.append((key, topic, payload))
                now = time.monotonic()
                for key, topic, payload in late:
                    del self._pending[key]  # moved to the end: sent again now
                    self._pending[key] = (now, topic, payload)
                self.resends += len(late)
            for _, topic, payload in late:
                self._client.publish(topic, payload, qos=QOS)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        at = time.monotonic()
        try:
            ack = json.loads(msg.payload)
            key = (msg.topic.split("/")[3], int(ack["ack"]))
        except (ValueError, KeyError, TypeError, IndexError):
            return
        with self._lock:
            if key in self.sent and key not in self.acked:
                self.acked[key] = at
                self.cases[key] = ack.get("case")
                self._pending.pop(key, None)

    def send(self, device_id: str, event: dict[str, Any]) -> tuple[str, int]:
        """Publish one event of `device_id` with its next seq; returns its key."""
        with self._lock:
            seq = self._seq.get(device_id, 0) + 1
            self._seq[device_id] = seq
            key = (device_id, seq)
            payload = json.dumps({"boot": BOOT, "seq": seq, **event})
            topic = f"vnh/v1/dev/{device_id}/up"
            self.sent[key] = time.monotonic()
            if self.resend_s > 0:
                self._pending[key] = (self.sent[key], topic, payload)
        self._client.publish(topic, payload, qos=QOS)
        return key

    def wait_acked(self, keys: list[tuple[str, int]], timeout: float) -> None:
        """Wait until every key is acked, or the timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if all(k in self.acked for k in keys):
                    return
            time.sleep(0.05)  # polling the acks the network thread records

    def latencies(self, keys: list[tuple[str, int]]) -> list[float]:
        """Press → ack of the acked keys, in seconds."""
        with self._lock:
            return [self.acked[k] - self.sent[k] for k in keys if k in self.acked]

    def close(self) -> None:
        """Stop resending and disconnect."""
        self._closed.set()
        if self._resender is not None:
            self._resender.join()
        self._client.disconnect()
        self._client.loop_stop()


def seed(database_url: str, storm: int, pressers: int) -> dict[str, str]:
    """Elders of one district with a terminal and a contact each; returns device → phone."""
    settings = Settings(database_url=database_url, _env_file=None)  # type: ignore[call-arg]
    services = build_services(settings)
    now = datetime.now(UTC)
    ids = [f"{STORM_PREFIX}{i:06d}" for i in range(storm)]
    ids += [f"{PRESS_PREFIX}{i:05d}" for i in range(pressers)]
    phones = {device_id: f"+86138{n:08d}" for n, device_id in enumerate(ids)}
    elders, contacts, devices = [], [], []
    for n, device_id in enumerate(ids, start=1):
        elders.append(
            Elder(
                id=n,
                name=f"Elder {device_id}",
                phone=f"+86139{n:08d}",
                created_at=now,
                district=DISTRICT,
            ).model_dump()
        )
        contacts.append(
            Contact(elder_id=n, name="Family", phone=phones[device_id], priority=1).model_dump(
                exclude={"id"}
            )
        )
        devices.append(
            Device(
                device_id=device_id, elder_id=n, secret_hash=NO_SECRET, created_at=now
            ).model_dump()
        )
    with services.engine.begin() as conn:
        for table, rows in ((Elder, elders), (Contact, contacts), (Device, devices)):
            for start in range(0, len(rows), 5000):
                conn.execute(insert(table), rows[start : start + 5000])
        if conn.dialect.name == "postgresql":
            # The ids above were given, not drawn: elders added later (`vnh bench` provisions
            # its fleet after) must not be handed them again.
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('elder', 'id'), (SELECT max(id) FROM elder))"
            )
    services.close()
    return phones


@dataclass
class Phase:
    """Presses of one phase and what their alerts did."""

    keys: list[tuple[str, int]] = field(default_factory=list)


def press_once(terminals: Terminals, pressers: list[str]) -> tuple[str, int]:
    """An emergency press by a terminal that has not pressed yet; its key."""
    return terminals.send(pressers.pop(), {"type": "press", "pattern": PRESS_PATTERN})


def press_for(
    terminals: Terminals, pressers: list[str], rate: float, seconds: float, phase: Phase
) -> None:
    """Presses at `rate` a second for `seconds`, each by a terminal that has not pressed yet."""
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < seconds and pressers:
        due = start + n / rate
        time.sleep(max(0.0, due - time.monotonic()))  # pacing the presses
        phase.keys.append(press_once(terminals, pressers))
        n += 1


def run_storm(
    *,
    storm_terminals: int,
    storm_s: float,
    rate: float,
    baseline_s: float,
    workdir: Path,
    resend_s: float = 0.0,
    restore: bool = False,
) -> dict[str, Any]:
    """Baseline presses, then the storm with presses, then the figures (see module doc)."""
    database_url = f"sqlite:///{workdir / 'storm.db'}"
    pressers_needed = int(rate * (baseline_s + storm_s * (2 if restore else 1))) + 10
    pressers_needed += WARMUP_PRESSES
    phones = seed(database_url, storm_terminals, pressers_needed)
    pressers = sorted((d for d in phones if d.startswith(PRESS_PREFIX)), reverse=True)
    storm_ids = [d for d in phones if d.startswith(STORM_PREFIX)]
    report: dict[str, Any] = {
        "storm_terminals": storm_terminals,
        "storm_s": storm_s,
        "rate": rate,
        "resend_s": resend_s,
    }
    with ExitStack() as stack:
        proc, broker_url, kind = start_broker(workdir / "broker")
        stack.enter_context(proc)
        report["broker"] = kind
        twilio = TwilioStandIn()
        stack.callback(twilio.close)
        service = Service(workdir, database_url, broker_url, extra_env=twilio.service_env())
        stack.callback(service.stop)
        service.wait_ready()
        terminals = Terminals(service.mqtt_url, resend_s=resend_s)
        stack.callback(terminals.close)

        warmup = [press_once(terminals, pressers) for _ in range(WARMUP_PRESSES)]
        terminals.wait_acked(warmup, DRAIN_TIMEOUT_S)
        time.sleep(1.0)  # their alerts go out before the baseline starts
        quiet, stormy = Phase(), Phase()
        press_for(terminals, pressers, rate, baseline_s, quiet)
        storm_started = time.time()
        storm_keys: list[tuple[str, int]] = []

        def storm() -> None:
            start = time.monotonic()
            for n, device_id in enumerate(storm_ids):
                time.sleep(max(0.0, start + n * storm_s / len(storm_ids) - time.monotonic()))
                storm_keys.append(terminals.send(device_id, {"type": "power", "state": "lost"}))

        storming = threading.Thread(target=storm, name="bench-storm")
        storming.start()
        press_for(terminals, pressers, rate, storm_s, stormy)
        storming.join()
        terminals.wait_acked(quiet.keys + stormy.keys + storm_keys, DRAIN_TIMEOUT_S)
        storm_done = time.time()
        report["storm_events"] = {
            "sent": len(storm_keys),
            "acked": len(terminals.latencies(storm_keys)),
            "recorded": _recorded(database_url),
            "seconds_to_record": round(storm_done - storm_started, 1),
            "resent": terminals.resends,
            "refused_by_gateway": service.health().get("gateway", {}).get("mqtt_refused"),
        }
        restoring = Phase()
        if restore:
            # Power returns: every terminal says so within the same seconds, presses go on.
            restored_keys: list[tuple[str, int]] = []
            restore_started = time.time()

            def power_back() -> None:
                start = time.monotonic()
                for n, device_id in enumerate(storm_ids):
                    time.sleep(max(0.0, start + n * storm_s / len(storm_ids) - time.monotonic()))
                    restored_keys.append(
                        terminals.send(device_id, {"type": "power", "state": "restored"})
                    )

            returning = threading.Thread(target=power_back, name="bench-restore")
            returning.start()
            press_for(terminals, pressers, rate, storm_s, restoring)
            returning.join()
            terminals.wait_acked(restoring.keys + restored_keys, DRAIN_TIMEOUT_S)
            report["restore_events"] = {
                "sent": len(restored_keys),
                "acked": len(terminals.latencies(restored_keys)),
                "recorded": _recorded(database_url) - report["storm_events"]["recorded"],
                "seconds_to_record": round(time.time() - restore_started, 1),
            }
        time.sleep(ALERT_WAIT_S if storm_terminals > 100 else 3.0)  # the last alerts go out
        report["quiet"] = _phase_figures(terminals, quiet, twilio, phones, database_url)
        report["storm"] = _phase_figures(terminals, stormy, twilio, phones, database_url)
        if restore:
            report["restore"] = _phase_figures(terminals, restoring, twilio, phones, database_url)
        storm_phones = {phones[d] for d in storm_ids}
        report["storm_effects"] = {
            **_storm_cases(database_url),
            "family_sms": sum(
                1 for _, r, to in twilio.requests if r == "Messages" and to in storm_phones
            ),
            "family_calls": sum(
                1 for _, r, to in twilio.requests if r == "Calls" and to in storm_phones
            ),
        }
    return report


def _phase_figures(
    terminals: Terminals, phase: Phase, twilio: TwilioStandIn, phones: dict[str, str], db: str
) -> dict[str, Any]:
    acks = terminals.latencies(phase.keys)
    first_at: dict[str, float] = {}
    for at, _, to in twilio.requests:
        first_at.setdefault(to, at)
    settings = Settings(database_url=db, _env_file=None)  # type: ignore[call-arg]
    services = build_services(settings, migrate=False)
    devices = [d for d, _ in phase.keys]
    with services.uow() as uow:
        opened = uow.session.exec(
            select(Case.device_id, Case.opened_at).where(
                col(Case.device_id).in_(devices), Case.kind == CaseKind.EMERGENCY
            )
        ).all()
    services.close()
    alerts = [
        first_at[phones[d]] - at.timestamp() for d, at in opened if d and phones[d] in first_at
    ]
    return {
        "presses": len(phase.keys),
        "acked": len(acks),
        "ack_p50_ms": _ms(percentile_ms(acks, 0.5)),
        "ack_p99_ms": _ms(percentile_ms(acks, 0.99)),
        "alerted": len(alerts),
        "alert_p50_ms": _ms(percentile_ms(alerts, 0.5)),
        "alert_p99_ms": _ms(percentile_ms(alerts, 0.99)),
    }


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _recorded(db: str) -> int:
    services = build_services(Settings(database_url=db, _env_file=None), migrate=False)  # type: ignore[call-arg]
    with services.uow() as uow:
        n = uow.session.exec(
            select(func.count()).select_from(DeviceEvent).where(DeviceEvent.type == "power")
        ).one()
    services.close()
    return int(n)


def _storm_cases(db: str) -> dict[str, int]:
    services = build_services(Settings(database_url=db, _env_file=None), migrate=False)  # type: ignore[call-arg]
    with services.uow() as uow:
        session = uow.session
        device = (Case.kind == CaseKind.DEVICE, col(Case.device_id).startswith(STORM_PREFIX))
        opened = session.exec(select(func.count()).select_from(Case).where(*device)).one()
        still = session.exec(
            select(func.count()).select_from(Case).where(*device, Case.state == "open")
        ).one()
        incidents = session.exec(select(Incident)).all()
    services.close()
    return {
        "device_cases_opened": int(opened),
        "device_cases_open": int(still),
        "incidents": len(incidents),
        "incidents_closed": sum(i.closed_at is not None for i in incidents),
        "incident_terminals": sum(i.terminals for i in incidents),
    }


def _table(report: dict[str, Any]) -> Table:
    table = Table(
        title=f"vnh bench storm: {report['storm_terminals']} terminals lose power within "
        f"{report['storm_s']} s, presses at {report['rate']}/s, broker {report['broker']}, SQLite"
    )
    for column in ("figure", "without storm", "during storm"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    quiet, storm = report["quiet"], report["storm"]
    for label, key in (
        ("presses (acked)", None),
        ("press→ack p50 ms", "ack_p50_ms"),
        ("press→ack p99 ms", "ack_p99_ms"),
        ("case commit→first Twilio request p50 ms", "alert_p50_ms"),
        ("case commit→first Twilio request p99 ms", "alert_p99_ms"),
    ):
        if key is None:
            cells = [f"{p['presses']} ({p['acked']})" for p in (quiet, storm)]
        else:
            cells = ["-" if p[key] is None else str(p[key]) for p in (quiet, storm)]
        table.add_row(label, *cells)
    events, effects = report["storm_events"], report["storm_effects"]
    table.add_row(
        "storm events sent / acked / recorded",
        "",
        f"{events['sent']} / {events['acked']} / {events['recorded']}",
    )
    table.add_row(
        f"messages resent (after {report['resend_s']} s) / refused by a full inbox",
        "",
        f"{events['resent']} / {events['refused_by_gateway']}",
    )
    if "restore" in report:
        back, again = report["restore"], report["restore_events"]
        table.add_row(
            "power back: press→ack p50 / p99 ms, alert p50 / p99 ms",
            "",
            f"{back['ack_p50_ms']} / {back['ack_p99_ms']}, "
            f"{back['alert_p50_ms']} / {back['alert_p99_ms']}",
        )
        table.add_row(
            "restore events sent / acked / recorded (s)",
            "",
            f"{again['sent']} / {again['acked']} / {again['recorded']} "
            f"({again['seconds_to_record']} s)",
        )
    table.add_row(
        "area incidents (terminals, closed)",
        "",
        f"{effects['incidents']} ({effects['incident_terminals']}, {effects['incidents_closed']})",
    )
    table.add_row(
        "device cases opened (still open)",
        "",
        f"{effects['device_cases_opened']} ({effects['device_cases_open']})",
    )
    table.add_row(
        "family SMS / calls for storm terminals",
        "",
        f"{effects['family_sms']} / {effects['family_calls']}",
    )
    return table


def bench_storm(
    terminals: Annotated[int, typer.Option(min=1, help="Terminals that lose power.")] = 20_000,
    storm_s: Annotated[
        float, typer.Option(min=1.0, help="Seconds the storm is spread over.")
    ] = 30.0,
    rate: Annotated[float, typer.Option(min=0.5, help="Emergency presses per second.")] = 5.0,
    baseline_s: Annotated[
        float, typer.Option(min=1.0, help="Seconds of presses before the storm.")
    ] = 20.0,
    restore: Annotated[
        bool, typer.Option(help="Then power returns: every terminal says so, as fast.")
    ] = False,
    resend_s: Annotated[
        float,
        typer.Option(
            min=0.0, help="Terminals resend an unacked event after this many s (0: never)."
        ),
    ] = 5.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, not a table.")] = False,
    keep: Annotated[bool, typer.Option(help="Keep the working directory and print it.")] = False,
) -> None:
    """A district blackout while elders press: ack and alert times with and without it."""
    logging.basicConfig(level=logging.WARNING)
    with bench_workdir("vnh-bench-storm-", keep) as workdir:
        report = run_storm(
            storm_terminals=terminals,
            storm_s=storm_s,
            rate=rate,
            baseline_s=baseline_s,
            workdir=workdir,
            resend_s=resend_s,
            restore=restore,
        )
    print_report(report, as_json, _table)
