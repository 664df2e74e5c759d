"""A uvicorn server that ends the consoles' event streams before it waits for connections."""

from __future__ import annotations

import socket
from collections.abc import Sequence

import uvicorn

from care_api.http.case_stream import CaseStream

# Enough for any ordinary request in flight; event streams are ended before the wait.
GRACEFUL_SHUTDOWN_S = 5  # uvicorn takes whole seconds


class ConsoleAwareServer(uvicorn.Server):
    """uvicorn.Server that closes the given case streams when it starts shutting down.

    An event stream never ends by itself, so uvicorn's graceful shutdown would wait for
    every open console (or cancel it with an error after `timeout_graceful_shutdown`).
    Lifespan shutdown runs only after that wait, hence this hook.
    """

    def __init__(self, config: uvicorn.Config, streams: Sequence[CaseStream]) -> None:
        super().__init__(config)
        self._streams = list(streams)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for stream in self._streams:
            stream.close()
        await super().shutdown(sockets=sockets)
