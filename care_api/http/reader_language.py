"""The language of whoever reads a response: the console's choice, else Accept-Language.

Server-made texts (case titles, history lines, console messages, flags) are stored as
catalogue keys; the API renders them in this language. The console sends the language the
user chose as `Accept-Language` (and `?lang=` where a browser cannot set headers).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from care_api.domain.texts import stored_text
from care_api.i18n import accept_language, language_of, render

_READER: ContextVar[str | None] = ContextVar("vnh_reader_language", default=None)


def reader_language() -> str | None:
    """The language of the request being answered; None outside one (the centre's then)."""
    return _READER.get()


def in_reader_language(text: str, stored: Mapping[str, Any] | None) -> str:
    """A row's text (`stored`: its catalogue key and fields, if kept) for this reader."""
    return render(reader_language(), stored_text(text, stored))


class ReaderLanguageMiddleware:
    """Pure ASGI middleware: sets the reader's language for the request it passes on."""

    def __init__(self, app: ASGIApp, default: str) -> None:
        self._app = app
        self._default = language_of(default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        asked = query.get("lang", [None])[0]
        if asked:
            language = language_of(asked, default=self._default)
        else:
            header = dict(scope["headers"]).get(b"accept-language", b"").decode("latin-1")
            language = accept_language(header, default=self._default)
        token = _READER.set(language)
        try:
            await self._app(scope, receive, send)
        finally:
            _READER.reset(token)
