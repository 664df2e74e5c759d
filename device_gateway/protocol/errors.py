"""FrameError: a frame that breaks PROTOCOL.md, with whatever of its event key could be read."""

from __future__ import annotations


class FrameError(ValueError):
    """A frame (payload or serial line) that cannot be accepted.

    `str(error)` is the reason, short and fit to send back to the terminal. `device_id`,
    `boot` and `seq` hold the parts of the event key that were read and valid (None
    otherwise), so the gateway can answer `rejected` / `$NAK` naming the event.
    """

    def __init__(
        self,
        reason: str,
        *,
        device_id: str | None = None,
        boot: int | None = None,
        seq: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.device_id = device_id
        self.boot = boot
        self.seq = seq

    def __repr__(self) -> str:
        return (
            f"FrameError({self.reason!r}, device_id={self.device_id!r}, "
            f"boot={self.boot!r}, seq={self.seq!r})"
        )
