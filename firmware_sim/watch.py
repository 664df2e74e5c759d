"""Simulated 4G SOS watches: the plain-text watch protocol, positions around the elder's home.

Its own small encoder (firmware_sim knows only the protocol, never the gateway's code):
`[3G*ID*LLLL*CONTENT]`, LLLL the content's byte length in four hex digits. A watch links
(`LK`), reports where it is (`UD`) and raises SOS alarms (`AL` with status bit 16), which
it resends until answered `[3G*ID*0002*AL]`. Commands from the centre (`CR`, `FIND`,
`SOS,…`, `CALL,…`, `MONITOR,…`, `UPLOAD,…`, `POWEROFF`) are answered with their keyword;
`CR` is followed by a position.
"""

from __future__ import annotations

import math
import random
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

MAKER = "3G"
SOS_BIT = 1 << 16
HOME = (31.2304, 121.4737)  # where the simulated elders live (a Shanghai street)
STEP_M = 30.0  # how far a watch wanders between two positions
RADIUS_M = 500.0  # and never further than this from home
ANSWER_TIMEOUT_S = 5.0
METRES_PER_DEGREE = 111_320.0
COMMANDS = frozenset({"CR", "FIND", "SOS", "CALL", "MONITOR", "UPLOAD", "POWEROFF"})


def encode(watch_id: str, content: str) -> bytes:
    """One frame around `content` (no index field)."""
    body = content.encode()
    return f"[{MAKER}*{watch_id}*{len(body):04X}*".encode() + body + b"]"


def located(keyword: str, at: datetime, lat: float, lon: float, battery: int, status: int) -> str:
    """A `UD`/`AL` content with a GPS fix and one cell tower."""
    return ",".join(
        [
            keyword,
            at.strftime("%d%m%y"),
            at.strftime("%H%M%S"),
            "A",
            f"{abs(lat):.6f}",
            "N" if lat >= 0 else "S",
            f"{abs(lon):.6f}",
            "E" if lon >= 0 else "W",
            "0.5",
            "0.0",
            "10.0",
            "7",
            "100",
            str(battery),
            "0",
            "0",
            f"{status:08X}",
            "1",
            "1",
            "460",
            "0",
            "9360",
            "4082",
            "131",
            "0",
        ]
    )


@dataclass
class Walk:
    """A position wandering around home, never more than RADIUS_M away."""

    rng: random.Random
    north_m: float = 0.0
    east_m: float = 0.0

    def step(self) -> tuple[float, float]:
        """Move a step in a random direction; the new (lat, lon)."""
        angle = self.rng.uniform(0, 2 * math.pi)
        north, east = (
            self.north_m + STEP_M * math.cos(angle),
            self.east_m + STEP_M * math.sin(angle),
        )
        if math.hypot(north, east) <= RADIUS_M:
            self.north_m, self.east_m = north, east
        lat = HOME[0] + self.north_m / METRES_PER_DEGREE
        lon = HOME[1] + self.east_m / (METRES_PER_DEGREE * math.cos(math.radians(HOME[0])))
        return lat, lon


@dataclass
class SimWatch:
    """One watch on its own TCP connection to the gateway's watch receiver."""

    watch_id: str
    address: tuple[str, int]
    seed: int | None = None
    battery: int = 90
    answers: list[bytes] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)  # what the centre told it, as sent

    def __post_init__(self) -> None:
        self.walk = Walk(random.Random(self.seed))
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._lock = threading.Lock()

    def connect(self) -> None:
        """Open the connection and link."""
        self._sock = socket.create_connection(self.address, timeout=ANSWER_TIMEOUT_S)
        self.link()

    def link(self) -> bool:
        """`LK` with the battery; True when answered."""
        return self._exchange(encode(self.watch_id, f"LK,0,0,{self.battery}"), "LK")

    def report_position(self, now: datetime | None = None) -> None:
        """A `UD` a step further along the walk (not answered by the protocol)."""
        lat, lon = self.walk.step()
        content = located("UD", now or datetime.now(UTC), lat, lon, self.battery, 0)
        self._send(encode(self.watch_id, content))

    def sos(self, now: datetime | None = None, attempts: int = 3) -> bool:
        """An SOS alarm where the watch is, resent until answered; True when answered."""
        lat, lon = self.walk.step()
        content = located("AL", now or datetime.now(UTC), lat, lon, self.battery, SOS_BIT)
        frame = encode(self.watch_id, content)
        return any(self._exchange(frame, "AL") for _ in range(attempts))

    def poll(self) -> int:
        """Answer the commands waiting on the connection, without blocking; how many."""
        if self._sock is None:
            raise ConnectionError("watch not connected")
        self._sock.setblocking(False)
        try:
            while True:
                chunk = self._sock.recv(1024)
                if not chunk:
                    raise ConnectionError(f"the gateway closed the connection of {self.watch_id}")
                self._buffer += chunk
        except BlockingIOError:
            pass
        finally:
            self._sock.settimeout(ANSWER_TIMEOUT_S)
        answered = 0
        while b"]" in self._buffer:
            answer, _, self._buffer = self._buffer.partition(b"]")
            answered += self._obey(answer + b"]")
        return answered

    def _obey(self, frame: bytes) -> int:
        """Answer `frame` when it is a command; 1 if it was."""
        content = frame.split(b"*", 3)[-1][:-1].decode(errors="replace")
        keyword = content.partition(",")[0]
        if keyword not in COMMANDS:
            return 0
        self.commands.append(content)
        self._send(encode(self.watch_id, keyword))
        if keyword == "CR":
            self.report_position()
        return 1

    def close(self) -> None:
        """Close the connection."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _send(self, frame: bytes) -> None:
        if self._sock is None:
            raise ConnectionError("watch not connected")
        with self._lock:
            self._sock.sendall(frame)

    def _exchange(self, frame: bytes, keyword: str) -> bool:
        self._send(frame)
        expected = f"*{keyword}]".encode()
        try:
            while True:
                answer = self._next_answer()
                if self._obey(answer):
                    continue
                self.answers.append(answer)
                if answer.endswith(expected):
                    return True
        except TimeoutError:
            return False

    def _next_answer(self) -> bytes:
        if self._sock is None:
            raise ConnectionError("watch not connected")
        while b"]" not in self._buffer:
            chunk = self._sock.recv(1024)
            if not chunk:
                raise ConnectionError(f"the gateway closed the connection of {self.watch_id}")
            self._buffer += chunk
        answer, _, self._buffer = self._buffer.partition(b"]")
        return answer + b"]"
