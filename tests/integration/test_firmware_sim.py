"""firmware_sim against a real Mosquitto, with the test playing the gateway."""

from __future__ import annotations

import itertools
import json
import resource
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion
from typer.testing import CliRunner

from firmware_sim import wire
from firmware_sim.address import BrokerAddress
from firmware_sim.cli import sim
from firmware_sim.fleet import Fleet
from firmware_sim.provision import ProvisionError, provision
from firmware_sim.terminal import Terminal
from tests.mosquitto import MosquittoServer, free_port, run_mosquitto

WAIT_S = 5.0
SHORT_ACK_S = 0.2
NO_HEARTBEAT_S = 3600.0
_client_ids = itertools.count(1)


class FakeGateway:
    """Plays device_gateway with a plain paho client: records uplink events, acks them."""

    def __init__(self, url: str, *, auto_ack: bool = True) -> None:
        self.auto_ack = auto_ack
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.statuses: list[tuple[str, str]] = []
        self._cases: dict[tuple[str, int, int], str | None] = {}
        self._numbers = itertools.count(1)
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        address = BrokerAddress.from_url(url)
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"test-gateway-{next(_client_ids)}",
            protocol=mqtt.MQTTv311,
        )
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.on_message = self._on_message
        self._client.connect(address.host, address.port)
        self._client.loop_start()
        assert self._subscribed.wait(WAIT_S)

    def _on_connect(self, client, userdata, flags, reason, props) -> None:
        client.subscribe([("vnh/v1/dev/+/up", 1), ("vnh/v1/dev/+/status", 1)])

    def _on_message(self, client, userdata, msg) -> None:
        device_id = wire.device_id_from_topic(msg.topic)
        assert device_id is not None
        if msg.topic.endswith("/status"):
            with self._cond:
                self.statuses.append((device_id, msg.payload.decode()))
                self._cond.notify_all()
            return
        event = json.loads(msg.payload)
        with self._cond:
            self.events.append((device_id, event))
            self._cond.notify_all()
        if self.auto_ack:
            self.ack(device_id, event)

    def ack(
        self, device_id: str, event: dict[str, Any], status: str | None = None, **extra
    ) -> None:
        """Ack like the real gateway: a repeated (device, boot, seq) is a duplicate, same case."""
        key = (device_id, event["boot"], event["seq"])
        with self._cond:
            seen = key in self._cases
            if not seen:
                opens_case = event["type"] == "press"
                self._cases[key] = f"C-TEST-{next(self._numbers):04d}" if opens_case else None
            case = self._cases[key]
        body = {"ack": event["seq"], "boot": event["boot"], "case": case, **extra}
        body["status"] = status or ("duplicate" if seen else "accepted")
        self.send_down(device_id, body)

    def send_down(self, device_id: str, body: dict[str, Any] | bytes) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body)
        self._client.publish(wire.down_topic(device_id), payload, qos=1)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = WAIT_S) -> bool:
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    def of(self, device_id: str, event_type: str | None = None) -> list[dict[str, Any]]:
        with self._cond:
            return [
                e
                for d, e in self.events
                if d == device_id and (event_type is None or e["type"] == event_type)
            ]

    def distinct(self) -> set[tuple[str, int, int]]:
        with self._cond:
            return {(d, e["boot"], e["seq"]) for d, e in self.events}

    def copies(self, device_id: str, boot: int, seq: int) -> int:
        return sum(1 for e in self.of(device_id) if (e["boot"], e["seq"]) == (boot, seq))

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def read_retained(url: str, topic: str) -> str | None:
    """The retained message on `topic`, as a fresh subscriber sees it."""
    got: list[str] = []
    done = threading.Event()
    address = BrokerAddress.from_url(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"reader-{next(_client_ids)}")

    def on_message(client, userdata, msg) -> None:
        if msg.retain:
            got.append(msg.payload.decode())
            done.set()

    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *_: None
    client.on_message = on_message
    client.connect(address.host, address.port)
    client.loop_start()
    try:
        # Retained messages come before or with the SUBACK; a second is plenty on loopback.
        done.wait(1.0)
    finally:
        client.disconnect()
        client.loop_stop()
    return got[0] if got else None


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoServer]:
    with run_mosquitto(tmp_path) as server:
        yield server


@pytest.fixture
def gateway(broker: MosquittoServer) -> Iterator[FakeGateway]:
    gw = FakeGateway(broker.url)
    yield gw
    gw.close()


@pytest.fixture
def make_terminal(broker: MosquittoServer) -> Iterator[Callable[..., Terminal]]:
    made: list[Terminal] = []

    def make(device_id: str = "T1001", **kwargs: Any) -> Terminal:
        kwargs.setdefault("ack_timeout_s", SHORT_ACK_S)
        kwargs.setdefault("heartbeat_s", NO_HEARTBEAT_S)
        terminal = Terminal(device_id, "secret", broker.url, **kwargs)
        made.append(terminal)
        terminal.start()
        assert terminal.wait_ready(WAIT_S), terminal.last_error
        return terminal

    yield make
    for terminal in made:
        terminal.stop()


# --- terminal over MQTT -----------------------------------------------------------------------


def test_terminal_press_arrives_with_boot_seq_type_pattern(gateway, make_terminal) -> None:
    terminal = make_terminal(boot=7)

    ack = terminal.press("long").wait(WAIT_S)

    assert ack is not None
    assert (ack["status"], ack["ack"], ack["boot"]) == ("accepted", 0, 7)
    assert ack["case"].startswith("C-TEST-")
    (event,) = gateway.of("T1001", "press")
    assert event["boot"] == 7
    assert event["seq"] == 0
    assert event["pattern"] == "long"
    assert event["button"] == "main"
    assert terminal.press().wait(WAIT_S)["ack"] == 1


def test_terminal_resends_same_event_until_acked(gateway, make_terminal) -> None:
    gateway.auto_ack = False
    terminal = make_terminal()
    first = terminal.press("double")

    assert gateway.wait_for(lambda: gateway.copies("T1001", first.boot, 0) >= 3)
    copies = gateway.of("T1001")
    assert {json.dumps(e, sort_keys=True) for e in copies} == {
        json.dumps(copies[0], sort_keys=True)
    }  # byte-for-byte the same event, same (boot, seq)
    gateway.ack("T1001", copies[0])
    assert first.wait(WAIT_S)["status"] == "accepted"
    acked_copies = gateway.copies("T1001", first.boot, 0)

    # A second, unacked event resent twice proves time for two more resends has passed.
    second = terminal.press()
    assert gateway.wait_for(lambda: gateway.copies("T1001", second.boot, 1) >= 3)
    assert gateway.copies("T1001", first.boot, 0) <= acked_copies + 1  # one may have crossed
    assert terminal.stats().pending == 1
    assert terminal.stats().resends >= 4


def test_terminal_counts_late_duplicate_ack_as_extra(gateway, make_terminal) -> None:
    terminal = make_terminal()
    event = terminal.press()
    assert event.wait(WAIT_S)["status"] == "accepted"

    terminal.resend(event)

    assert gateway.wait_for(lambda: gateway.copies("T1001", event.boot, 0) == 2)
    assert terminal.wait_until(lambda t: t.stats().extra_acks == 1, WAIT_S)
    assert event.ack["status"] == "accepted"


def test_terminal_restart_starts_new_boot_at_seq_zero(gateway, make_terminal) -> None:
    terminal = make_terminal(boot=41)
    terminal.press().wait(WAIT_S)
    terminal.press().wait(WAIT_S)

    assert terminal.restart() == 42
    ack = terminal.press("triple").wait(WAIT_S)

    assert (ack["boot"], ack["ack"], ack["status"]) == (42, 0, "accepted")
    assert [(e["boot"], e["seq"]) for e in gateway.of("T1001")] == [(41, 0), (41, 1), (42, 0)]


def test_terminal_rejected_event_is_settled(gateway, make_terminal) -> None:
    gateway.auto_ack = False
    terminal = make_terminal()
    event = terminal.press()
    assert gateway.wait_for(lambda: gateway.of("T1001"))

    gateway.ack("T1001", gateway.of("T1001")[0], status="rejected", reason="device retired")

    ack = event.wait(WAIT_S)
    assert (ack["status"], ack["reason"]) == ("rejected", "device retired")
    assert terminal.stats().rejected == 1
    assert terminal.stats().pending == 0


def test_terminal_status_online_then_will_offline_when_connection_dies(
    broker, gateway, make_terminal
) -> None:
    topic = wire.status_topic("T1001")
    terminal = make_terminal()
    assert read_retained(broker.url, topic) == "online"

    terminal.crash()

    assert gateway.wait_for(lambda: ("T1001", "offline") in gateway.statuses)
    assert read_retained(broker.url, topic) == "offline"
    terminal.start()
    assert terminal.wait_ready(WAIT_S)
    assert read_retained(broker.url, topic) == "online"


def test_terminal_stop_leaves_offline_retained(broker, make_terminal) -> None:
    terminal = make_terminal()

    terminal.stop()

    assert read_retained(broker.url, wire.status_topic("T1001")) == "offline"


def test_terminal_answers_ping_with_cmd_result(gateway, make_terminal) -> None:
    terminal = make_terminal()

    gateway.send_down("T1001", {"cmd": "ping", "id": "k-1"})

    assert gateway.wait_for(lambda: gateway.of("T1001", "cmd_result"))
    (result,) = gateway.of("T1001", "cmd_result")
    assert (result["ref"], result["ok"]) == ("k-1", True)
    assert terminal.commands() == [{"cmd": "ping", "id": "k-1"}]


def test_terminal_config_sets_heartbeat_interval(gateway, make_terminal) -> None:
    terminal = make_terminal()

    gateway.send_down("T1001", {"cmd": "config", "id": "c-1", "heartbeat_s": 0.2})

    assert gateway.wait_for(lambda: len(gateway.of("T1001", "heartbeat")) >= 2)
    (result,) = gateway.of("T1001", "cmd_result")
    assert (result["ref"], result["ok"]) == ("c-1", True)
    assert terminal.heartbeat_s == 0.2
    beat = gateway.of("T1001", "heartbeat")[0]
    assert 0 <= beat["battery"] <= 100
    assert beat["rssi"] < 0
    assert beat["fw"]


def test_terminal_refuses_bad_config_and_unknown_command(gateway, make_terminal) -> None:
    terminal = make_terminal()

    gateway.send_down("T1001", {"cmd": "config", "id": "c-2", "heartbeat_s": "often"})
    gateway.send_down("T1001", {"cmd": "selfdestruct", "id": "c-3"})

    assert gateway.wait_for(lambda: len(gateway.of("T1001", "cmd_result")) == 2)
    results = {r["ref"]: r for r in gateway.of("T1001", "cmd_result")}
    assert results["c-2"]["ok"] is False
    assert results["c-3"]["ok"] is False
    assert terminal.heartbeat_s == NO_HEARTBEAT_S


def test_terminal_records_case_news_and_survives_garbage(gateway, make_terminal) -> None:
    terminal = make_terminal()
    news = {"case": "C-20261122-0001", "state": "accepted", "say": "A volunteer is on the way"}

    gateway.send_down("T1001", b"\xff not json")
    gateway.send_down("T1001", b"[1, 2]")
    gateway.send_down("T1001", news)

    assert terminal.wait_until(lambda t: bool(t.case_news()), WAIT_S)
    assert terminal.case_news() == [news]
    assert terminal.press().wait(WAIT_S) is not None


def test_terminal_resends_pending_press_after_broker_restart(
    broker, gateway, make_terminal
) -> None:
    terminal = make_terminal(ack_timeout_s=0.5)
    broker.stop()
    assert terminal.wait_until(lambda t: not t.ready, WAIT_S)

    event = terminal.press("long")  # made while the broker is down
    broker.start()

    assert event.wait(15.0) is not None
    assert gateway.of("T1001", "press")[0]["pattern"] == "long"


# --- fleet and command line -------------------------------------------------------------------


def test_fleet_presses_with_pattern_mix_and_reports_latency(broker, gateway) -> None:
    creds = [(f"SIM{i:04d}", "s") for i in range(1, 21)]
    stop = threading.Event()
    with Fleet(broker.url, creds, heartbeat_s=NO_HEARTBEAT_S, ack_timeout_s=0.5, seed=3) as fleet:
        fleet.start(WAIT_S)
        runner = threading.Thread(target=fleet.run, args=(400.0, None, stop))
        runner.start()
        try:
            assert gateway.wait_for(lambda: len(gateway.distinct()) >= 60)
        finally:
            stop.set()
            runner.join()
        assert fleet.wait_idle(WAIT_S)
        stats = fleet.stats()

    assert stats.terminals == 20
    assert stats.presses >= 60
    assert stats.pending == 0
    assert stats.accepted + stats.duplicate == stats.sent == stats.presses
    assert 0 < stats.latency_p50_ms <= stats.latency_p99_ms
    assert set(fleet.pattern_counts()) <= set(wire.PATTERNS)
    presses = [e for _, e in gateway.events if e["type"] == "press"]
    assert {e["pattern"] for e in presses} <= set(wire.PATTERNS)
    assert all(t.stats().pending == 0 for t in fleet.terminals)


@pytest.fixture
def many_descriptors() -> None:
    """Room for 1100 sockets (and Mosquitto's, which inherits the limit), or skip."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4096
    if soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"open-file limit {hard} is too low")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


@pytest.mark.slow
@pytest.mark.usefixtures("many_descriptors")
def test_fleet_runs_past_the_select_limit_of_1024_descriptors(broker, gateway) -> None:
    creds = [(f"BIG{i:04d}", "s") for i in range(1100)]
    with Fleet(broker.url, creds, heartbeat_s=NO_HEARTBEAT_S, seed=5) as fleet:
        fleet.start(30.0)
        last = fleet.terminal("BIG1099")

        assert last.press().wait(WAIT_S)["status"] == "accepted"
        assert fleet.stats().ready == 1100


def test_fleet_start_times_out_without_broker() -> None:
    fleet = Fleet(f"mqtt://127.0.0.1:{free_port()}", [("T1", "s"), ("T2", "s")])

    with pytest.raises(TimeoutError, match="2 of 2 terminals not connected"):
        fleet.start(timeout_s=0.3)


def test_sim_command_runs_fleet_from_credentials_file(broker, gateway, tmp_path) -> None:
    creds = tmp_path / "creds.csv"
    creds.write_text("device_id,secret\nSIM0001,a\nSIM0002,b\n# spare\nSIM0003,c\n")
    app = typer.Typer()
    app.command()(sim)

    result = CliRunner().invoke(
        app,
        [
            *("--credentials", str(creds), "--mqtt-url", broker.url, "--rate", "40"),
            *("--duration", "0.5", "--heartbeat", "3600", "--ack-timeout", "0.5", "--seed", "2"),
        ],
    )

    assert result.exit_code == 0, result.output
    assert "3 terminals connected" in result.output
    assert "accepted" in result.output
    assert {d for d, _ in gateway.events} <= {"SIM0001", "SIM0002", "SIM0003"}
    assert gateway.events


def test_sim_command_needs_token_or_credentials(monkeypatch) -> None:
    monkeypatch.delenv("VNH_ADMIN_TOKEN", raising=False)
    app = typer.Typer()
    app.command()(sim)

    result = CliRunner().invoke(app, ["--duration", "1"])

    assert result.exit_code == 2
    assert "--credentials" in result.output


# --- provisioning over HTTP -------------------------------------------------------------------


class FakeApi:
    """Just enough of /api/v1 for provisioning; devices survive between runs."""

    def __init__(self) -> None:
        self.elders: dict[int, dict[str, Any]] = {}
        self.contacts: list[dict[str, Any]] = []
        self.devices: dict[str, int] = {}
        self.rotations = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != "Bearer tok":
            return httpx.Response(401, json={"detail": "bad token"})
        path = request.url.path.removeprefix("/api/v1")
        body = json.loads(request.content) if request.content else {}
        if path == "/elders":
            elder_id = len(self.elders) + 1
            self.elders[elder_id] = body
            return httpx.Response(201, json={"id": elder_id, **body})
        if path.endswith("/contacts"):
            self.contacts.append(body)
            return httpx.Response(201, json={"id": len(self.contacts), **body})
        if path == "/devices":
            if body["device_id"] in self.devices:
                return httpx.Response(409, json={"detail": "device exists"})
            self.devices[body["device_id"]] = body["elder_id"]
            return httpx.Response(201, json={**body, "secret": f"s-{body['device_id']}"})
        device_id = path.split("/")[2]
        if path.endswith("/rotate-secret") and device_id in self.devices:
            self.rotations += 1
            return httpx.Response(200, json={"secret": f"r{self.rotations}-{device_id}"})
        return httpx.Response(404, json={"detail": "Not Found"})


def test_provision_creates_elders_contacts_and_devices() -> None:
    api = FakeApi()
    with httpx.Client(transport=httpx.MockTransport(api)) as client:
        creds = provision("http://api.test", "tok", 3, prefix="SIM", client=client)

    assert creds == [("SIM0001", "s-SIM0001"), ("SIM0002", "s-SIM0002"), ("SIM0003", "s-SIM0003")]
    assert len(api.elders) == 3
    assert all(29.0 < e["lat"] < 29.3 and 119.5 < e["lon"] < 119.8 for e in api.elders.values())
    assert all(e["phone"].startswith("+86") for e in api.elders.values())
    assert [c["relation"] for c in api.contacts] == ["daughter"] * 3


def test_provision_again_rotates_secrets_without_new_elders() -> None:
    api = FakeApi()
    with httpx.Client(transport=httpx.MockTransport(api)) as client:
        provision("http://api.test", "tok", 2, client=client)
        again = provision("http://api.test", "tok", 2, client=client)

    assert again == [("SIM0001", "r1-SIM0001"), ("SIM0002", "r2-SIM0002")]
    assert len(api.elders) == 2


def test_provision_error_names_call_and_detail() -> None:
    with (
        httpx.Client(transport=httpx.MockTransport(FakeApi())) as client,
        pytest.raises(ProvisionError, match=r"401: bad token"),
    ):
        provision("http://api.test", "wrong", 1, client=client)


# --- wire codec -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("device_id", "boot", "seq", "event_type", "fields", "line"),
    [
        (
            "T1001",
            7,
            42,
            "press",
            {"pattern": "long"},
            b"$VNH,T1001,7,42,press,pattern=long*21\r\n",
        ),
        (
            "T1001",
            7,
            43,
            "heartbeat",
            {"battery": 88, "rssi": -71},
            b"$VNH,T1001,7,43,heartbeat,battery=88,rssi=-71*11\r\n",
        ),
    ],
)
def test_wire_encode_line_matches_protocol_examples(
    device_id, boot, seq, event_type, fields, line
) -> None:
    assert wire.encode_line(device_id, boot, seq, event_type, fields) == line


def test_wire_checksum_is_xor_between_dollar_and_star() -> None:
    assert wire.nmea_checksum("ACK,T1001,7,42,accepted,case=C-20261122-0001") == "6C"
    assert wire.nmea_checksum("") == "00"


def test_wire_percent_encoding_escapes_reserved_characters() -> None:
    assert wire.percent_encode("a,b*c=d$e%f ok") == "a%2Cb%2Ac%3Dd%24e%25f ok"
    assert wire.percent_encode("有人摔倒") == "%E6%9C%89%E4%BA%BA%E6%91%94%E5%80%92"
    assert wire.percent_decode("a%2cb%2A") == "a,b*"
    with pytest.raises(wire.WireError):
        wire.percent_decode("100%")


@given(st.text())
def test_wire_percent_encoding_round_trips(text: str) -> None:
    encoded = wire.percent_encode(text)
    assert not set(encoded) & set(",*=$\r\n")
    assert encoded.isascii()
    assert wire.percent_decode(encoded) == text


@given(
    device_id=st.from_regex(wire.DEVICE_ID_RE, fullmatch=True),
    boot=st.integers(0, wire.MAX_COUNTER),
    seq=st.integers(0, wire.MAX_COUNTER),
    event_type=st.sampled_from(sorted(wire.EVENT_TYPES)),
    fields=st.dictionaries(
        st.from_regex(r"[a-z_]{1,8}", fullmatch=True),
        st.one_of(st.text(max_size=20), st.integers(-100, 100), st.booleans()),
        max_size=3,
    ),
)
def test_wire_line_round_trips(device_id, boot, seq, event_type, fields) -> None:
    try:
        line = wire.encode_line(device_id, boot, seq, event_type, fields)
    except wire.WireError:
        return  # over 256 bytes: refused, as PROTOCOL.md says
    assert len(line) <= wire.MAX_LINE_BYTES
    event = wire.decode_line(line)
    assert (event.device_id, event.boot, event.seq, event.type) == (
        device_id,
        boot,
        seq,
        event_type,
    )
    assert event.fields == {k: wire.format_value(v) for k, v in fields.items()}


def test_wire_parse_reply_reads_ack_and_nak() -> None:
    ack = wire.parse_reply(b"\x00junk$ACK,T1001,7,42,accepted,case=C-20261122-0001*6C\r\n")
    assert (ack.is_ack, ack.device_id, ack.boot, ack.seq) == (True, "T1001", 7, 42)
    assert (ack.status, ack.case) == ("accepted", "C-20261122-0001")

    nak = wire.parse_reply(wire.encode_reply("NAK", None, None, None, "bad checksum"))
    assert (nak.is_ack, nak.device_id, nak.boot, nak.seq) == (False, None, None, None)
    assert nak.reason == "bad checksum"


@pytest.mark.parametrize(
    "line",
    [
        b"$ACK,T1001,7,42,accepted,case=C-20261122-0001*6D\r\n",  # checksum off by one
        b"$ACK,T1001,7,42,accepted*ZZ\r\n",
        b"no dollar at all\r\n",
        b"$VNH,T1001,7,42,press*" + wire.nmea_checksum("VNH,T1001,7,42,press").encode(),
        b"$ACK,T1001,seven,42,accepted*"
        + wire.nmea_checksum("ACK,T1001,seven,42,accepted").encode(),
    ],
)
def test_wire_parse_reply_refuses_bad_lines(line: bytes) -> None:
    with pytest.raises(wire.WireError):
        wire.parse_reply(line)


def test_wire_encode_line_refuses_lines_over_256_bytes() -> None:
    with pytest.raises(wire.WireError, match="256"):
        wire.encode_line("T1", 1, 1, "cmd_result", {"detail": "x" * 250})


def test_wire_encode_event_is_compact_json_without_nulls() -> None:
    payload = wire.encode_event(7, 42, "press", {"pattern": "long", "ts": None})

    assert payload == b'{"boot":7,"seq":42,"type":"press","pattern":"long"}'
    with pytest.raises(wire.WireError):
        wire.encode_event(7, 42, "press", {"seq": 1})
    with pytest.raises(wire.WireError):
        wire.encode_event(-1, 0, "press", {})


def test_wire_decode_downlink_tells_the_three_kinds_apart() -> None:
    ack = wire.decode_downlink(b'{"ack":42,"boot":7,"status":"duplicate","case":"C-1"}')
    news = wire.decode_downlink('{"case":"C-1","state":"accepted","say":"on the way"}')
    cmd = wire.decode_downlink(b'{"cmd":"config","id":"x","heartbeat_s":60}')
    bare = wire.decode_downlink(b'{"status":"rejected","reason":"not JSON"}')

    assert ack == wire.Ack(42, 7, "duplicate", "C-1", None, raw={})
    assert isinstance(news, wire.CaseNews)
    assert news.say == "on the way"
    assert isinstance(cmd, wire.Command)
    assert (cmd.cmd, cmd.id, cmd.params) == ("config", "x", {"heartbeat_s": 60})
    assert isinstance(bare, wire.Ack)
    assert (bare.seq, bare.boot, bare.reason) == (None, None, "not JSON")


@pytest.mark.parametrize(
    "payload", [b"", b"nope", b"[]", b'{"hello":1}', b'{"ack":"x","status":"accepted"}']
)
def test_wire_decode_downlink_refuses_garbage(payload: bytes) -> None:
    with pytest.raises(wire.WireError):
        wire.decode_downlink(payload)


def test_wire_topics_and_device_id_from_topic() -> None:
    assert wire.up_topic("T1001") == "vnh/v1/dev/T1001/up"
    assert wire.down_topic("T1001") == "vnh/v1/dev/T1001/down"
    assert wire.status_topic("T1001") == "vnh/v1/dev/T1001/status"
    assert wire.device_id_from_topic("vnh/v1/dev/T1001/up") == "T1001"
    assert wire.device_id_from_topic("vnh/v1/dev/bad id/up") is None
    assert wire.device_id_from_topic("other/v1/dev/T1001/up") is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://127.0.0.1:1884", BrokerAddress("127.0.0.1", 1884, tls=False)),
        ("mqtt://broker", BrokerAddress("broker", 1883)),
        ("mqtts://u:p%40ss@broker", BrokerAddress("broker", 8883, True, "u", "p@ss")),
    ],
)
def test_broker_address_parses_mqtt_urls(url: str, expected: BrokerAddress) -> None:
    assert BrokerAddress.from_url(url) == expected


@pytest.mark.parametrize("url", ["http://x:1", "mqtt://", "mqtt://h:notaport"])
def test_broker_address_refuses_bad_urls(url: str) -> None:
    with pytest.raises(ValueError):
        BrokerAddress.from_url(url)
