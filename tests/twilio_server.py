"""RecordingTwilioServer: a local HTTP server that answers like Twilio's Messages and Calls API."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import secrets
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

logger = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
DEFAULT_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
DEFAULT_AUTH_TOKEN = "test-auth-token-0123456789abcdef"
# Twilio's own codes for the errors this server can give.
AUTH_ERROR_CODE = 20003
NOT_FOUND_CODE = 20404
STATUS_ERROR_CODES = {429: 20429, 500: 20500, 503: 20503}
MISSING_PARAM_ERRORS = {
    "Messages": [
        ("To", 21604, "A 'To' phone number is required."),
        ("From", 21603, "A 'From' phone number is required."),
        ("Body", 21602, "Message body is required."),
    ],
    "Calls": [
        ("To", 21201, "No 'To' number is specified"),
        ("From", 21213, "No 'From' number is specified"),
    ],
}


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received, as the test wants to check it."""

    method: str
    path: str
    form: dict[str, str]
    auth_ok: bool
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def resource(self) -> str | None:
        """ "Messages" or "Calls" (the last path segment without .json), or None."""
        last = self.path.rsplit("/", 1)[-1]
        return last.removesuffix(".json") if last.endswith(".json") else None


@dataclass
class _Failure:
    count: int
    status: int
    code: int
    message: str


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: RecordingTwilioServer

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that timed out and hung up is expected in tests; anything else is a bug.
        logger.debug("twilio test server: client %s went away", client_address, exc_info=True)


class RecordingTwilioServer:
    """A Twilio look-alike on 127.0.0.1 for tests that drive the real twilio client.

    Use as a context manager. Point the client at `base_url`. Every request is recorded in
    `received`; `fail_next` and `delay_next` script outages. Requests need HTTP Basic auth with the
    configured account SID and auth token, as Twilio does.
    """

    def __init__(
        self,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        *,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._tls = tls  # serve HTTPS with this server-side context
        self._lock = threading.Lock()
        self._received: list[RecordedRequest] = []
        self._failures: list[_Failure] = []
        self._delays: list[float] = []
        self._release = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> RecordingTwilioServer:
        """Listen on a free port of 127.0.0.1 and serve in a background thread."""
        server = _Server(("127.0.0.1", 0), _Handler)
        server.owner = self
        if self._tls is not None:
            server.socket = self._tls.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="twilio-test-server"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, release delayed requests and close the socket."""
        if self._server is None:
            return
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> RecordingTwilioServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The URL to pass as api_base_url, e.g. http://127.0.0.1:54321."""
        if self._server is None:
            raise RuntimeError("the server is not running")
        host, port = self._server.server_address[:2]
        scheme = "http" if self._tls is None else "https"
        return f"{scheme}://{host!s}:{port}"

    # -- what tests read and script ----------------------------------------------------------

    @property
    def received(self) -> list[RecordedRequest]:
        """A copy of every request received so far, oldest first."""
        with self._lock:
            return list(self._received)

    def messages(self) -> list[RecordedRequest]:
        """The requests that created messages (SMS)."""
        return [r for r in self.received if r.resource == "Messages"]

    def calls(self) -> list[RecordedRequest]:
        """The requests that created calls."""
        return [r for r in self.received if r.resource == "Calls"]

    def fail_next(
        self, count: int = 1, status: int = 500, code: int | None = None, message: str = ""
    ) -> None:
        """Answer the next `count` authenticated requests with a Twilio error of `status`."""
        failure = _Failure(
            count=count,
            status=status,
            code=code if code is not None else STATUS_ERROR_CODES.get(status, 20000 + status),
            message=message or f"Scripted failure {status}",
        )
        with self._lock:
            self._failures.append(failure)

    def recover(self) -> None:
        """Drop every scripted failure and delay still pending: the provider is back."""
        with self._lock:
            self._failures.clear()
            self._delays.clear()

    def delay_next(self, seconds: float, count: int = 1) -> None:
        """Hold the next `count` responses for `seconds` (stop() releases them at once)."""
        with self._lock:
            self._delays.extend([seconds] * count)

    # -- used by the handler -----------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> tuple[float, _Failure | None]:
        with self._lock:
            self._received.append(request)
            delay = self._delays.pop(0) if self._delays else 0.0
            failure = None
            if request.auth_ok and self._failures:
                failure = self._failures[0]
                failure.count -= 1
                if failure.count <= 0:
                    self._failures.pop(0)
        return delay, failure

    def _check_auth(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header.removeprefix("Basic "), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        expected = f"{self.account_sid}:{self.auth_token}"
        return hmac.compare_digest(decoded.encode(), expected.encode())


def _new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _now_rfc2822() -> str:
    return format_datetime(datetime.now(UTC), usegmt=True)


def _message_body(account_sid: str, form: dict[str, str]) -> dict[str, Any]:
    sid = _new_sid("SM")
    uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}"
    now = _now_rfc2822()
    return {
        "account_sid": account_sid,
        "api_version": API_VERSION,
        "body": form.get("Body", ""),
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": form.get("From"),
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued",
        "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": form.get("To"),
        "uri": f"{uri}.json",
    }


def _call_body(account_sid: str, form: dict[str, str]) -> dict[str, Any]:
    sid = _new_sid("CA")
    uri = f"/{API_VERSION}/Accounts/{account_sid}/Calls/{sid}"
    now = _now_rfc2822()
    return {
        "account_sid": account_sid,
        "annotation": None,
        "answered_by": None,
        "api_version": API_VERSION,
        "caller_name": None,
        "date_created": now,
        "date_updated": now,
        "direction": "outbound-api",
        "duration": None,
        "end_time": None,
        "forwarded_from": None,
        "from": form.get("From"),
        "from_formatted": form.get("From"),
        "group_sid": None,
        "parent_call_sid": None,
        "phone_number_sid": _new_sid("PN"),
        "price": None,
        "price_unit": "USD",
        "queue_time": "0",
        "sid": sid,
        "start_time": None,
        "status": "queued",
        "subresource_uris": {"recordings": f"{uri}/Recordings.json"},
        "to": form.get("To"),
        "to_formatted": form.get("To"),
        "trunk_sid": None,
        "uri": f"{uri}.json",
    }


_RESOURCES: dict[str, Callable[[str, dict[str, str]], dict[str, Any]]] = {
    "Messages": _message_body,
    "Calls": _call_body,
}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        # http.server logs to stderr; route it to logging, formatting only when someone listens.
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("twilio test server: %s", format % args)

    def do_GET(self) -> None:
        self._reply_error(405, 20004, "Method not allowed")

    def do_POST(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8") if length else ""
        form = {key: values[0] for key, values in parse_qs(raw, keep_blank_values=True).items()}
        path = urlsplit(self.path).path
        auth_ok = owner._check_auth(self.headers.get("Authorization"))
        recorded = RecordedRequest(
            method="POST", path=path, form=form, auth_ok=auth_ok, headers=dict(self.headers)
        )
        delay_s, failure = owner._record(recorded)
        if delay_s:
            owner._release.wait(delay_s)
        if not auth_ok:
            self._reply_error(401, AUTH_ERROR_CODE, "Authenticate")
            return
        if failure is not None:
            self._reply_error(failure.status, failure.code, failure.message)
            return
        prefix = f"/{API_VERSION}/Accounts/{owner.account_sid}/"
        resource = recorded.resource
        if not path.startswith(prefix) or path.count("/") != 4 or resource not in _RESOURCES:
            self._reply_error(404, NOT_FOUND_CODE, f"The requested resource {path} was not found")
            return
        for name, code, text in MISSING_PARAM_ERRORS.get(resource, []):
            if not form.get(name):
                self._reply_error(400, code, text)
                return
        if resource == "Calls" and not (form.get("Twiml") or form.get("Url")):
            self._reply_error(400, 21205, "Url parameter is required.")
            return
        self._reply_json(201, _RESOURCES[resource](owner.account_sid, form))

    def _reply_error(self, status: int, code: int, message: str) -> None:
        body = {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
        self._reply_json(status, body)

    def _reply_json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
