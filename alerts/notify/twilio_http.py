"""The HTTP transport under twilio-python: requests' pools and settings, not its per-request work.

twilio-python's own client (`TwilioHttpClient`) sends each request through a requests
`Session`: it prepares the request (URL parsing, body encoding, cookies, hooks), merges the
session's and the environment's settings, and only then reaches urllib3's pool. That was
about half of a message's CPU in the sending threads, where the alerts of a new emergency
queue. Here requests' `HTTPAdapter` still picks the pool, the proxy and the TLS settings, once
per host; each request then goes straight to that pool with the same timeouts and no retries.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, cast
from urllib.parse import SplitResult, urlencode, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from twilio.http import HttpClient
from twilio.http.response import Response
from urllib3 import Timeout
from urllib3.util import make_headers

if TYPE_CHECKING:
    from requests.structures import CaseInsensitiveDict
    from urllib3.connectionpool import HTTPConnectionPool

TWILIO_DOMAIN = "twilio.com"
# What requests' default session adds to every request.
_SESSION_HEADERS = {"Accept-Encoding": "gzip, deflate", "Connection": "keep-alive"}
_JSON_TYPES = frozenset({"application/json", "application/scim+json"})
_log = logging.getLogger("twilio.http_client")


class _Route(NamedTuple):
    """How requests would reach one scheme and host: its prepared probe and settings."""

    probe: requests.PreparedRequest
    settings: dict[str, Any]
    full_url: bool  # a plain-HTTP request through an HTTP proxy names the whole URL


class ThreadSafeTwilioHttpClient(HttpClient):  # type: ignore[misc]  # twilio is untyped
    """twilio-python's HTTP client on requests' connection pools; several threads may send at once.

    twilio-python keeps each response on the client (`_test_only_last_response`) and returns
    it from there: two requests in flight at once could each get the other's answer. Here each
    request returns its own, and each thread keeps its last one.
    """

    def __init__(self, *, timeout: float | None = None) -> None:
        self._mine = threading.local()  # before the base class sets the attributes below
        super().__init__(_log, False, timeout)
        # A kept-alive connection for each of the sender's threads, and room for the calls'.
        self._adapter = HTTPAdapter(pool_maxsize=32)
        self._routes: dict[tuple[str, str], _Route] = {}
        self._lock = threading.Lock()

    @property
    def _test_only_last_response(self) -> Response | None:
        return getattr(self._mine, "response", None)

    @_test_only_last_response.setter
    def _test_only_last_response(self, value: Response | None) -> None:
        self._mine.response = value

    def request(
        self,
        method: str,
        url: str,
        params: Mapping[str, object] | None = None,
        data: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """Send one request to Twilio and return its answer; urllib3 errors propagate.

        Nothing is retried, as with requests' default adapter: the sender decides that.
        twilio-python never asks to follow redirects, and one asked for is refused.
        """
        if allow_redirects:
            raise ValueError("this Twilio HTTP client follows no redirects")
        if timeout is None:
            timeout = self.timeout
        elif timeout <= 0:
            raise ValueError(timeout)
        self._test_only_last_response = None
        parts = urlsplit(self.rebase(url))
        if params:
            query = urlencode(params, doseq=True)
            parts = parts._replace(query=f"{parts.query}&{query}" if parts.query else query)
        sent = {**_SESSION_HEADERS, **(headers or {})}
        if auth is not None:
            sent.update(make_headers(basic_auth=f"{auth[0]}:{auth[1]}"))
        body: str | None = None
        if data is not None:
            if sent.get("Content-Type") in _JSON_TYPES:
                body = json.dumps(data)
            elif data:
                body = urlencode(data, doseq=True)
        route = self._route(parts)
        conn: HTTPConnectionPool = self._adapter.get_connection_with_tls_context(
            route.probe, route.settings["verify"], route.settings["proxies"], route.settings["cert"]
        )
        target = urlunsplit(parts) if route.full_url else _path(parts)
        answer = conn.urlopen(
            method=method.upper(),
            url=target,
            body=body.encode() if body is not None else None,
            headers=sent,
            redirect=False,
            assert_same_host=False,
            retries=self._adapter.max_retries,
            timeout=Timeout(connect=timeout, read=timeout),
        )
        # requests' own reading of the charset; it only asks the mapping for "content-type".
        found = cast("CaseInsensitiveDict[str]", answer.headers)
        charset = requests.utils.get_encoding_from_headers(found) or "utf-8"
        text = answer.data.decode(charset, errors="replace")
        response = Response(answer.status, text, answer.headers)
        self._test_only_last_response = response
        return response

    def rebase(self, url: str) -> str:
        """The URL a request for `url` goes to: `url` itself here."""
        return url

    def close(self) -> None:
        """Close the pooled connections (shutdown and tests)."""
        self._adapter.close()

    def _route(self, parts: SplitResult) -> _Route:
        key = (parts.scheme, parts.netloc)
        route = self._routes.get(key)
        if route is None:
            # requests reads the proxy and CA variables of the environment here, as it would
            # before each request; the service's environment does not change while it runs.
            base = urlunsplit((parts.scheme, parts.netloc, "/", "", ""))
            with requests.Session() as session:
                probe = session.prepare_request(requests.Request("GET", base))
                settings = session.merge_environment_settings(base, {}, None, None, None)
            proxy = requests.utils.select_proxy(base, settings["proxies"])
            plain = parts.scheme != "https"
            socks = proxy is not None and urlsplit(proxy).scheme.lower().startswith("socks")
            full_url = proxy is not None and plain and not socks
            route = _Route(probe, settings, full_url)
            with self._lock:
                self._routes[key] = route
        return route


def _path(parts: SplitResult) -> str:
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


class RebasedTwilioHttpClient(ThreadSafeTwilioHttpClient):
    """A Twilio HTTP client that sends every request meant for https://*.twilio.com elsewhere.

    twilio-python has no base-URL option; tests and Twilio-compatible gateways use this instead.
    The scheme and host (plus any path prefix of `api_base_url`) replace Twilio's; the path and
    query of the request are kept.
    """

    def __init__(self, api_base_url: str, *, timeout: float | None = None) -> None:
        base = urlsplit(api_base_url)
        if base.scheme not in {"http", "https"} or not base.netloc:
            raise ValueError(f"api_base_url must be an http(s) URL, got {api_base_url!r}")
        super().__init__(timeout=timeout)
        self._base: SplitResult = base

    def rebase(self, url: str) -> str:
        """Return `url` pointed at the base URL when it is a Twilio API URL, else unchanged."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme != "https" or not (
            host == TWILIO_DOMAIN or host.endswith("." + TWILIO_DOMAIN)
        ):
            return url
        path = self._base.path.rstrip("/") + parts.path
        return urlunsplit((self._base.scheme, self._base.netloc, path, parts.query, parts.fragment))
