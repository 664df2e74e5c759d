"""A cap on request bodies: 413 before a huge upload is read into memory."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Far above any body this API takes (a whole ladder is a few kB), far below harm.
MAX_BODY_BYTES = 1024 * 1024
_TOO_LARGE = 413


class BodySizeLimitMiddleware:
    """Pure ASGI middleware: a declared or streamed body over `max_bytes` gets 413."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = MAX_BODY_BYTES,
        larger: Mapping[str, int] | None = None,
    ) -> None:
        self._app = app
        self._max_bytes = max_bytes
        # Path prefix → its own cap, for the few routes that take files (bulk import).
        self._larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = next((n for p, n in self._larger.items() if path.startswith(p)), self._max_bytes)
        detail = f"request body over {limit} bytes"
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await JSONResponse({"detail": detail}, status_code=_TOO_LARGE)(scope, receive, send)
            return
        seen = 0

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # sent in chunks, without a Content-Length
                    # Raised inside the app, whose exception handlers answer it.
                    raise HTTPException(_TOO_LARGE, detail)
            return message

        await self._app(scope, counted_receive, send)
