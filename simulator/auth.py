"""OAuth: Basic-auth token issue, bearer-token checks, expiry and revocation."""

from __future__ import annotations

import base64
import binascii
import hmac
import threading
from dataclasses import dataclass

from simulator import clock
from simulator.config import SimulatorConfig
from simulator.errors import (
    INVALID_AUTH_HEADER,
    INVALID_TOKEN,
    OAUTH_BAD_AUTH_TYPE,
    OAUTH_BAD_GRANT,
    DarajaError,
)
from simulator.ids import IdGenerator

TOKEN_ERROR_STATUS = 401  # see README: Daraja's status for token errors varies; 401 is what clients act on


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_at: float  # monotonic seconds
    ttl_s: float
    app: str  # the consumer key it was issued to: one Daraja app


def bad_oauth_auth() -> DarajaError:
    return DarajaError(400, OAUTH_BAD_AUTH_TYPE, "Invalid Authentication passed")


class TokenStore:
    """Thread-safe set of live tokens. Tokens expire lazily: a check past ``expires_at`` fails."""

    def __init__(self, ids: IdGenerator) -> None:
        self._ids = ids
        self._lock = threading.Lock()
        self._tokens: dict[str, IssuedToken] = {}

    def issue(self, authorization: str | None, grant_type: str | None, config: SimulatorConfig) -> IssuedToken:
        """Check Basic credentials and grant type, then issue a token living ``token_ttl_s``."""
        if not authorization or not authorization.startswith("Basic "):
            raise bad_oauth_auth()
        try:
            decoded = base64.b64decode(authorization[len("Basic ") :].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise bad_oauth_auth() from None
        key, sep, secret = decoded.partition(":")
        if grant_type != "client_credentials":
            raise DarajaError(400, OAUTH_BAD_GRANT, "Invalid grant type passed")
        good_key = hmac.compare_digest(key.encode(), config.consumer_key.encode())
        good_secret = hmac.compare_digest(secret.encode(), config.consumer_secret.encode())
        if not sep or not (good_key and good_secret):
            raise bad_oauth_auth()
        token = IssuedToken(
            access_token=self._ids.token(),
            expires_at=clock.monotonic() + config.token_ttl_s,
            ttl_s=config.token_ttl_s,
            app=key,
        )
        with self._lock:
            if config.new_token_revokes_old:  # one live token per app (Daraja's FAQ)
                for stale in [t for t in self._tokens.values() if t.app == token.app]:
                    del self._tokens[stale.access_token]
            self._tokens[token.access_token] = token
        return token

    def require(self, authorization: str | None) -> None:
        """Raise Daraja's token error unless ``authorization`` is ``Bearer <live token>``."""
        if not authorization:
            raise DarajaError(TOKEN_ERROR_STATUS, INVALID_AUTH_HEADER, "Invalid Authentication Header")
        scheme, _, value = authorization.partition(" ")
        if scheme != "Bearer" or not value.strip():
            raise DarajaError(TOKEN_ERROR_STATUS, INVALID_AUTH_HEADER, "Invalid Authentication Header")
        with self._lock:
            token = self._tokens.get(value.strip())
            if token is not None and clock.monotonic() >= token.expires_at:
                del self._tokens[token.access_token]
                token = None
        if token is None:
            raise DarajaError(TOKEN_ERROR_STATUS, INVALID_TOKEN, "Invalid Access Token")

    def revoke_all(self) -> int:
        with self._lock:
            count = len(self._tokens)
            self._tokens.clear()
            return count

    def live_count(self) -> int:
        now = clock.monotonic()
        with self._lock:
            return sum(1 for token in self._tokens.values() if token.expires_at > now)


def expires_in_value(token: IssuedToken, config: SimulatorConfig) -> str | int | float:
    """Seconds, as a string by default (the real sandbox quirk) or a number. Whole seconds, like
    Daraja, unless ``token_ttl_s`` has a fraction (short-lived test tokens): then e.g. ``"0.3"``."""
    ttl = token.ttl_s
    if ttl == int(ttl):
        return str(int(ttl)) if config.expires_in_type == "string" else int(ttl)
    return repr(ttl) if config.expires_in_type == "string" else ttl
