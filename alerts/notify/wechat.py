"""WeChat official-account adapter of the Notifier port: template messages over httpx.

A small client rather than wechatpy: two endpoints (access token, template send) are all the
alerts need, httpx is already a dependency, and its timeouts and base URL (tests) are ours.
"""

from __future__ import annotations

import json as jsonlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from alerts.ports import DeliveryReceipt, NotifyError, OutboundMessage

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0
# Refresh this long before WeChat's own expiry: a token about to lapse mid-send is refused.
TOKEN_MARGIN_S = 300
# errcodes meaning "this access token is no good any more": fetch a new one and try again.
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
# errcodes a retry of the same message cannot fix (the person unfollowed, a bad template…).
FINAL_ERRCODES = frozenset({40003, 40037, 43004, 43019, 47003})
BUSY_ERRCODE = -1


class WechatApi:
    """The official account's API: a cached access token, and template message sends.

    The token is fetched once and kept until `expires_in` (minus a margin) runs out, or until
    WeChat says it is invalid or expired (errcode 40001/42001), when it is fetched again and
    the send retried once. One lock: several senders never fetch two tokens at once, which
    would make the first invalid.
    """

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        *,
        base_url: str = "https://api.weixin.qq.com",
        timeout_s: float = DEFAULT_TIMEOUT_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._app_id = app_id
        self._secret = app_secret
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s)
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.tokens_fetched = 0

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def access_token(self, *, stale: str | None = None) -> str:
        """The cached token, fetched anew when it ran out or is the `stale` one."""
        with self._lock:
            now = self._monotonic()
            if self._token is not None and self._token != stale and now < self._expires_at:
                return self._token
            body = self._call(
                "GET",
                "/cgi-bin/token",
                params={
                    "grant_type": "client_credential",
                    "appid": self._app_id,
                    "secret": self._secret,
                },
            )
            token = body.get("access_token")
            if not isinstance(token, str) or not token:
                raise NotifyError(f"WeChat gave no access token: {_errmsg(body)}", retryable=False)
            expires_in = body.get("expires_in", 7200)
            lifetime = float(expires_in) if isinstance(expires_in, int | float) else 7200.0
            self._token = token
            self._expires_at = now + max(lifetime - TOKEN_MARGIN_S, lifetime / 2)
            self.tokens_fetched += 1
            logger.info("wechat access token fetched (valid %.0f s)", lifetime)
            return token

    def send_template(
        self, openid: str, template_id: str, data: dict[str, dict[str, str]], url: str | None
    ) -> str:
        """Send a template message; returns WeChat's msgid. Raises NotifyError on failure."""
        payload: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": data}
        if url:
            payload["url"] = url
        token = self.access_token()
        body = self._call("POST", "/cgi-bin/message/template/send", token=token, json=payload)
        if body.get("errcode") in TOKEN_ERRCODES:
            # Revoked or expired early (another process fetched one): once more, fresh.
            token = self.access_token(stale=token)
            body = self._call("POST", "/cgi-bin/message/template/send", token=token, json=payload)
        code = body.get("errcode", 0)
        if code not in (0, None):
            raise NotifyError(
                f"WeChat refused the template message: {_errmsg(body)}",
                retryable=code not in FINAL_ERRCODES,
                provider_code=int(code) if isinstance(code, int) else None,
            )
        return str(body.get("msgid", ""))

    def _call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        query = dict(params or {})
        if token is not None:
            query["access_token"] = token
        try:
            # WeChat wants UTF-8 JSON as is; httpx's json= would escape every Chinese letter.
            content = None if json is None else _dumps(json)
            response = self._http.request(method, path, params=query, content=content)
            response.raise_for_status()
            body = response.json()
        except httpx.HTTPError as exc:
            raise NotifyError(f"WeChat unreachable: {type(exc).__name__}: {exc}") from exc
        except ValueError as exc:
            raise NotifyError(f"WeChat answered with no JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise NotifyError("WeChat answered with something other than a JSON object")
        if body.get("errcode") == BUSY_ERRCODE:
            raise NotifyError(f"WeChat is busy: {_errmsg(body)}")
        return body


def _dumps(payload: dict[str, Any]) -> bytes:
    return jsonlib.dumps(payload, ensure_ascii=False).encode()


def _errmsg(body: dict[str, Any]) -> str:
    return f"errcode {body.get('errcode')}: {body.get('errmsg', '')}"


class WechatTemplateNotifier:
    """Sends a message as the official account's template message to the person's openid.

    The template's `first` field carries the whole text (in the reader's language, with how
    to answer: reply "1" to the account), `keyword1` the case.
    """

    def __init__(self, api: WechatApi, template_id: str, link: str | None = None) -> None:
        self._api = api
        self._template_id = template_id
        self._link = link

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        """Send `message.body` to the openid `message.to`; NotifyError when WeChat refuses."""
        data = {
            "first": {"value": message.body},
            "keyword1": {"value": message.case_id or ""},
        }
        msgid = self._api.send_template(message.to, self._template_id, data, self._link)
        logger.info("wechat template message %s msgid=%s", message.notification_id, msgid)
        return DeliveryReceipt("sent", provider_id=f"wx-{msgid}", detail="wechat template sent")

    def close(self) -> None:
        """Close the API client."""
        self._api.close()
