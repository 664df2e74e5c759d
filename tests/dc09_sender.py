"""A second DC-09 encoder for tests, written from the published spec, not from our codec.

SIA DC-09: `<LF><crc><0LLL><"id"><seq><Rrcvr><Lpref><#acct>[<data>][x…]<_timestamp><CR>`;
the CRC is CRC-16 with polynomial x^16 + x^15 + x^2 + 1 (0x8005, bit-reflected), initial 0,
over the characters from the opening quote to the end of the timestamp; 0LLL is that
part's length as "0" and three upper-case hex digits.
"""

from __future__ import annotations

import socket
import time


def _crc_table() -> list[int]:
    # Table-driven on purpose: the codec computes bit by bit, so a shared mistake is unlikely.
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc_table()


def spec_crc(text: str) -> int:
    """CRC-16/ARC of `text` (ASCII)."""
    crc = 0
    for ch in text.encode("ascii"):
        crc = (crc >> 8) ^ _TABLE[(crc ^ ch) & 0xFF]
    return crc


def block(
    msg_id: str,
    seq: int,
    account: str,
    data: str,
    *,
    receiver: str | None = "1",
    line: str = "1",
    timestamp: str | None = None,
) -> bytes:
    """One frame: `msg_id` "ADM-CID" / "SIA-DCS" / "NULL"; seq 1–9999 as 4 decimal digits."""
    text = f'"{msg_id}"{seq:04d}'
    if receiver is not None:
        text += f"R{receiver}"
    text += f"L{line}#{account}[{data}]"
    if timestamp is not None:
        text += f"_{timestamp}"
    return f"\n{spec_crc(text):04X}0{len(text):03X}{text}\r".encode("ascii")


def contact_id(
    seq: int, account: str, event: str, *, group: str = "01", zone: str = "015"
) -> bytes:
    """An ADM-CID frame: `event` is qualifier + code, e.g. "1101" (new personal emergency)."""
    return block("ADM-CID", seq, account, f"#{account}|{event[0]}{event[1:]} {group} {zone}")


class Panel:
    """A panel's end of a TCP connection to the receiver: send frames, read answers."""

    def __init__(
        self, address: tuple[str, int], timeout_s: float = 10.0, *, source: str | None = None
    ) -> None:
        """Connect to the receiver, from the local address `source` when given."""
        origin = (source, 0) if source is not None else None
        self.sock = socket.create_connection(address, timeout=timeout_s, source_address=origin)
        self._buffer = b""

    def closed_by_receiver(self) -> bool:
        """Wait for the receiver to close this connection; False if it stays open."""
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False

    def send(self, frame: bytes) -> None:
        self.sock.sendall(frame)

    def answer(self) -> bytes:
        """The next whole answer frame (LF … CR)."""
        deadline = time.monotonic() + 10.0
        while b"\r" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no answer; have {self._buffer!r}")
            chunk = self.sock.recv(1024)
            if not chunk:
                raise ConnectionError(f"receiver closed; have {self._buffer!r}")
            self._buffer += chunk
        frame, _, self._buffer = self._buffer.partition(b"\r")
        return frame[frame.find(b"\n") :] + b"\r"

    def close(self) -> None:
        self.sock.close()


def answer_id(frame: bytes) -> str:
    """ACK / NAK / DUH of an answer frame, after checking its CRC and length."""
    text = frame.decode("ascii").strip("\n\r")
    crc, length, body = text[:4], text[4:8], text[8:]
    assert int(length, 16) == len(body), frame
    assert int(crc, 16) == spec_crc(body), frame
    return body[1 : body.index('"', 1)]
