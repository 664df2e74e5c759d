"""OpenID Connect with Authlib: discovery, the authorization code flow with PKCE, the id_token.

The IdP is asked over HTTP here at the edge; which staff login the verified claims name is
the use case's (`care_api.usecases.people.staff.sso_user`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from care_api.settings import Settings

HTTP_TIMEOUT_S = 10.0
PENDING_S = 600  # a sign-in not finished within ten minutes starts over
MAX_PENDING = 1000  # a flood of unfinished sign-ins cannot grow memory without bound
LEEWAY_S = 60  # clock skew allowed on the id_token's times


class SsoRefused(Exception):
    """The IdP's answer does not prove who signed in (bad state, token, signature, claims)."""


@dataclass(frozen=True, slots=True)
class Pending:
    """What the callback checks: PKCE's verifier and the nonce, kept on the server."""

    verifier: str
    nonce: str
    until: float


@dataclass
class OidcClient:
    """One IdP as the centre configured it; discovery and keys are read once, then kept."""

    issuer: str
    client_id: str
    client_secret: str
    pending: dict[str, Pending] = field(default_factory=dict)
    _config: dict[str, Any] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcClient | None:
        """The client when VNH_OIDC_ISSUER and VNH_OIDC_CLIENT_ID are set, else None."""
        if not settings.oidc_issuer or not settings.oidc_client_id:
            return None
        secret = settings.oidc_client_secret
        return cls(
            settings.oidc_issuer.rstrip("/"),
            settings.oidc_client_id,
            secret.get_secret_value() if secret else "",
        )

    def _session(self, redirect_uri: str) -> OAuth2Session:
        return OAuth2Session(
            self.client_id,
            self.client_secret or None,
            scope="openid profile email",
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if self.client_secret else "none",
            timeout=HTTP_TIMEOUT_S,
        )

    def config(self) -> Mapping[str, Any]:
        """The IdP's discovery document; its issuer must be the one configured."""
        if self._config is None:
            url = f"{self.issuer}/.well-known/openid-configuration"
            with OAuth2Session(timeout=HTTP_TIMEOUT_S) as http:
                answer = http.get(url, withhold_token=True)
            answer.raise_for_status()
            found = answer.json()
            if found.get("issuer", "").rstrip("/") != self.issuer:
                raise SsoRefused("the discovery document names another issuer")
            self._config = found
        return self._config

    def start(self, redirect_uri: str, now: float | None = None) -> tuple[str, str]:
        """The IdP's authorization URL and the state the browser's cookie must bring back."""
        now = time.monotonic() if now is None else now
        for state in [s for s, p in self.pending.items() if p.until < now]:
            del self.pending[state]
        if len(self.pending) >= MAX_PENDING:
            self.pending.pop(next(iter(self.pending)))
        verifier, nonce = generate_token(48), generate_token(24)
        with self._session(redirect_uri) as oauth:
            url, state = oauth.create_authorization_url(
                self.config()["authorization_endpoint"], code_verifier=verifier, nonce=nonce
            )
        self.pending[state] = Pending(verifier, nonce, now + PENDING_S)
        return url, state

    def finish(
        self, redirect_uri: str, *, code: str, state: str, cookie_state: str | None
    ) -> dict[str, Any]:
        """Exchange the code (with the PKCE verifier) and return the id_token's checked claims."""
        # The state must be one we issued, to this browser (its cookie), and used once.
        found = self.pending.pop(state, None)
        if found is None or cookie_state != state or found.until < time.monotonic():
            raise SsoRefused("unknown or expired sign-in state")
        config = self.config()
        with self._session(redirect_uri) as oauth:
            token = oauth.fetch_token(
                config["token_endpoint"], code=code, code_verifier=found.verifier
            )
            keys = KeySet.import_key_set(oauth.get(config["jwks_uri"], withhold_token=True).json())
        raw = token.get("id_token")
        if not isinstance(raw, str):
            raise SsoRefused("the IdP sent no id_token")
        try:
            decoded = jwt.decode(raw, keys, algorithms=["RS256", "ES256", "PS256"])
            jwt.JWTClaimsRegistry(
                leeway=LEEWAY_S,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.client_id},
                sub={"essential": True},
                exp={"essential": True},
                nonce={"essential": True, "value": found.nonce},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise SsoRefused(f"id_token refused: {exc}") from None
        return dict(decoded.claims)
