"""A 4G watch for tests, written from the makers' documents, not from our codec.

Frames are `[MM*ID*LLLL*CONTENT]` or `[MM*ID*IIII*LLLL*CONTENT]` (LLLL: CONTENT's byte
length in four upper-case hex digits). A position or alarm is `KW,ddmmyy,hhmmss,A|V,lat,
N|S,lon,E|W,speed,course,altitude,satellites,signal,battery,steps,rolls,status(8 hex),
cells,ta,mcc,mnc,(area,cell,rssi)*cells,wifi,(name,mac,rssi)*wifi`.
"""

from __future__ import annotations

import socket
import time
from datetime import datetime

SOS_BIT = 1 << 16
LOW_BATTERY_BIT = 1 << 17
FALL_BIT = 1 << 21
WAIT_S = 30.0  # a ceiling for a loaded 2-core machine, not a speed check


def frame(
    watch_id: str, content: bytes | str, *, maker: str = "3G", index: int | None = None
) -> bytes:
    """One frame around `content`, with the index field when `index` is given."""
    body = content.encode() if isinstance(content, str) else content
    head = f"[{maker}*{watch_id}*"
    if index is not None:
        head += f"{index:04X}*"
    return head.encode() + f"{len(body):04X}*".encode() + body + b"]"


def located(
    keyword: str,
    at: datetime,
    *,
    status: int = 0,
    fix: bool = True,
    lat: float = 22.571707,
    lon: float = 113.8613968,
    battery: int = 80,
    cells: int = 2,
    wifi: int = 0,
) -> str:
    """The content of a `UD`/`AL` frame; `cells=0` writes the empty cell list as makers do."""
    parts = [
        keyword,
        at.strftime("%d%m%y"),
        at.strftime("%H%M%S"),
        "A" if fix else "V",
        f"{lat:.6f}",
        "N",
        f"{lon:.6f}",
        "E",
        "0.00",
        "0.0",
        "0.0",
        "6" if fix else "0",
        "100",
        str(battery),
        "0",
        "0",
        f"{status:08X}",
        str(cells),
    ]
    if cells:
        parts += ["1", "460", "0"]
        for n in range(cells):
            parts += ["9360", str(4082 + n), str(140 - n)]
    parts.append(str(wifi))
    for n in range(wifi):
        parts += [f"ap{n}", f"1c:fa:68:13:a5:b{n}", str(-60 - n)]
    return ",".join(parts)


class Watch:
    """A watch's end of a TCP connection to the receiver: send frames, read answers."""

    def __init__(self, address: tuple[str, int], timeout_s: float = WAIT_S) -> None:
        self.sock = socket.create_connection(address, timeout=timeout_s)
        self._buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answer(self) -> bytes:
        """The next whole answer frame (`[` … `]`; answers carry no binary)."""
        deadline = time.monotonic() + WAIT_S
        while b"]" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no answer; have {self._buffer!r}")
            chunk = self.sock.recv(1024)
            if not chunk:
                raise ConnectionError(f"receiver closed; have {self._buffer!r}")
            self._buffer += chunk
        answer, _, self._buffer = self._buffer.partition(b"]")
        return answer[answer.find(b"[") :] + b"]"

    def closed_by_peer(self) -> bool:
        """True once the receiver closed the connection without answering anything more."""
        try:
            chunk = self.sock.recv(1024)
        except ConnectionResetError:
            return True
        self._buffer += chunk
        return not chunk

    def close(self) -> None:
        self.sock.close()
