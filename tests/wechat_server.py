"""RecordingWechatServer: a local HTTP server that answers like WeChat's official-account API.

It speaks the two endpoints the alerts use: `GET /cgi-bin/token` (client_credential) and
`POST /cgi-bin/message/template/send`, and records every request. Tests can expire the
tokens it issued (the next send gets errcode 42001), make sends fail with an errcode, or
make them hang past the client's timeout.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

APP_ID = "wx0123456789abcdef"
APP_SECRET = "test-wechat-secret-0123456789abcdef"
TOKEN_EXPIRED = 42001


@dataclass(frozen=True)
class WechatRequest:
    """One request as received: method, path, query and JSON body (None for a GET)."""

    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any] | None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: RecordingWechatServer

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out and hung up is expected here


class RecordingWechatServer:
    """A WeChat look-alike on 127.0.0.1; use as a context manager, point at `base_url`."""

    def __init__(self, app_id: str = APP_ID, app_secret: str = APP_SECRET, port: int = 0) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.requests: list[WechatRequest] = []
        self.valid_tokens: set[str] = set()
        self.issued = 0
        self.fail_with: int | None = None  # errcode of every send while set
        self.hang_s = 0.0  # sends wait this long before answering
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """Where the server listens."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> RecordingWechatServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def expire_tokens(self) -> None:
        """Every token issued so far is expired: sends with one get errcode 42001."""
        with self._lock:
            self.valid_tokens.clear()

    def sends(self) -> list[WechatRequest]:
        """The template sends received, in order."""
        return [r for r in self.requests if r.path == "/cgi-bin/message/template/send"]

    def token_requests(self) -> list[WechatRequest]:
        """The access-token requests received, in order."""
        return [r for r in self.requests if r.path == "/cgi-bin/token"]

    def answer(self, request: WechatRequest) -> dict[str, Any]:
        with self._lock:
            self.requests.append(request)
            if request.path == "/cgi-bin/token":
                q = request.query
                if q.get("appid") != self.app_id or q.get("secret") != self.app_secret:
                    return {"errcode": 40013, "errmsg": "invalid appid"}
                self.issued += 1
                token = f"ACCESS_TOKEN_{self.issued}"
                self.valid_tokens.add(token)
                return {"access_token": token, "expires_in": 7200}
            if request.path != "/cgi-bin/message/template/send":
                return {"errcode": 404, "errmsg": "no such api"}
            if request.query.get("access_token") not in self.valid_tokens:
                return {"errcode": TOKEN_EXPIRED, "errmsg": "access_token expired"}
            hang, fail = self.hang_s, self.fail_with
        if hang:
            time.sleep(hang)
        if fail is not None:
            return {"errcode": fail, "errmsg": "refused by the test"}
        return {"errcode": 0, "errmsg": "ok", "msgid": 200000 + len(self.requests)}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        body = None
        if method == "POST":
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length).decode("utf-8"))
        answer = self.server.owner.answer(WechatRequest(method, parts.path, query, body))
        data = json.dumps(answer).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client timed out and went away

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")
