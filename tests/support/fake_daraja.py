"""A requests transport adapter that answers like a scripted Daraja (no sockets)."""

from __future__ import annotations

import io
import json
from collections import defaultdict, deque
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter

from mpesa.daraja.breaker import CircuitBreaker, MemoryBreakerStore
from mpesa.daraja.client import DarajaClient
from mpesa.daraja.tokens import MemoryTokenCache, TokenProvider, token_cache_key
from mpesa.settings import MpesaSettings

OAUTH_PATH = "/oauth/v1/generate"
PUSH = "/mpesa/stkpush/v1/processrequest"
QUERY = "/mpesa/stkpushquery/v1/query"
B2C = "/mpesa/b2c/v3/paymentrequest"
ACCEPTED_PUSH = {
    "MerchantRequestID": "29115-34620561-1",
    "CheckoutRequestID": "ws_CO_191220191020363925",
    "ResponseCode": "0",
    "ResponseDescription": "Success. Request accepted for processing",
    "CustomerMessage": "Success. Request accepted for processing",
}


def answer(status: int, body: Any = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    if isinstance(body, bytes | str):
        content = body.encode() if isinstance(body, str) else body
    else:
        content = json.dumps(body).encode() if body is not None else b""
    response.raw = io.BytesIO(content)  # what `content` reads, as from a socket
    return response


def daraja_error(status: int, code: str, message: str) -> requests.Response:
    return answer(status, {"requestId": "req-1", "errorCode": code, "errorMessage": message})


class FakeDaraja(BaseAdapter):
    """Queue answers (or exceptions, or callables returning either) per path; OAuth hands out token-1,
    token-2, ... by default. urllib3's retries are not involved: one queued outcome per client attempt."""

    def __init__(self) -> None:
        super().__init__()
        self.queues: dict[str, deque[Any]] = defaultdict(deque)
        self.sent: list[requests.PreparedRequest] = []
        self.timeouts: list[Any] = []
        self.policies: list[tuple[str, str]] = []
        self.tokens_issued = 0

    def queue(self, path: str, *outcomes: Any) -> None:
        self.queues[path].extend(outcomes)

    def sent_to(self, path: str) -> list[requests.PreparedRequest]:
        return [r for r in self.sent if urlsplit(r.url or "").path == path]

    def body(self, index: int = -1, path: str | None = None) -> dict[str, Any]:
        requests_ = self.sent if path is None else self.sent_to(path)
        raw = requests_[index].body
        assert isinstance(raw, bytes)
        loaded: dict[str, Any] = json.loads(raw)
        return loaded

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append(request)
        self.timeouts.append(kwargs.get("timeout"))
        path = urlsplit(request.url or "").path
        queue = self.queues[path]
        if queue:
            outcome = queue.popleft()
        elif path == OAUTH_PATH:
            self.tokens_issued += 1
            outcome = answer(200, {"access_token": f"token-{self.tokens_issued}", "expires_in": "3599"})
        else:
            raise AssertionError(f"unexpected request to {path}")
        if callable(outcome):  # a step run while the request is "on the wire" (may raise, returns the answer)
            outcome = outcome()
        if isinstance(outcome, BaseException):
            raise outcome
        response: requests.Response = outcome
        response.request = request
        response.url = request.url or ""
        return response

    def close(self) -> None:
        return None


def install(monkeypatch: pytest.MonkeyPatch) -> FakeDaraja:
    """Route every DarajaClient session to a fresh FakeDaraja."""
    fake = FakeDaraja()
    session = requests.Session()
    session.mount("http://", fake)
    session.mount("https://", fake)

    def session_for(policy: Any) -> requests.Session:
        fake.policies.append((policy.kind.value, ""))
        return session

    monkeypatch.setattr("mpesa.daraja.pipeline.session_for", session_for)
    return fake


def make_client(settings: MpesaSettings, clock: Any, **options: Any) -> DarajaClient:
    """A client with its own memory token cache and breaker (tests do not share container state)."""
    tokens = TokenProvider(
        token_cache_key(settings.consumer_key.get_secret_value(), settings.daraja_base_url),
        memory=MemoryTokenCache(),
        clock=clock,
    )
    options.setdefault("breaker", CircuitBreaker("daraja", store=MemoryBreakerStore(), clock=clock.now))
    return DarajaClient(settings, tokens=tokens, clock=clock, **options)
