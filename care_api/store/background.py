"""A daemon thread that runs one loop until it is stopped: the store's background chores."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Background:
    """Runs `loop(stopping)` on a daemon thread; the loop returns once `stopping` is set.

    `stop` sets it, calls `wake` (for a loop that waits on something else), and waits up to
    `join_s` for the loop's last round; a loop still running then is logged, not killed.
    """

    def __init__(
        self,
        name: str,
        loop: Callable[[threading.Event], None],
        *,
        join_s: float,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self._name = name
        self._loop = loop
        self._join_s = join_s
        self._wake = wake
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread."""
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._loop, args=(self._stopping,), name=self._name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Ask the loop to end and wait for it, at most `join_s`."""
        self._stopping.set()
        if self._wake is not None:
            self._wake()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(self._join_s)
            if thread.is_alive():
                log.warning("%s did not stop within %.0f s", self._name, self._join_s)
