"""OpenAPI test helpers: keys, settings, the simulator's OpenAPI control API, and clients wired to it."""

from __future__ import annotations

import base64
import threading
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mpesa.clock import SYSTEM_CLOCK, Clock
from mpesa.credential_cache import MemoryCredentialCache
from mpesa.daraja.breaker import CircuitBreaker, MemoryBreakerStore
from mpesa.openapi.client import OpenApiClient
from mpesa.openapi.crypto import BearerFactory
from mpesa.openapi.sessions import SessionProvider, session_cache_key
from mpesa.settings import OpenApiSettings
from simulator.server import SimulatorServer
from tests.support.daraja import make_settings

FAST_BACKOFF = 0.01  # production: 2 (2 s, 4 s, 8 s)
SIM_API_KEY = "sim-openapi-api-key"  # the simulator's default openapi_api_key
SIM_PROVIDER_CODE = "000000"  # the sandbox's ServiceProviderCode


def new_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_key_b64(key: rsa.RSAPrivateKey) -> str:
    """As the portal shows it: one line of base64 DER SubjectPublicKeyInfo."""
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


def decrypt_bearer(key: rsa.RSAPrivateKey, authorization: str) -> str:
    scheme, _, value = authorization.partition(" ")
    assert scheme == "Bearer"
    return key.decrypt(base64.b64decode(value), padding.PKCS1v15()).decode()


def openapi_settings(public_key: str, **overrides: Any) -> OpenApiSettings:
    """Sandbox OpenAPI settings (Daraja's test settings underneath), overridable by setting name."""
    values: dict[str, Any] = {
        "MPESA_TZ_API_KEY": SIM_API_KEY,
        "MPESA_TZ_PUBLIC_KEY": public_key,
        "MPESA_TZ_SERVICE_PROVIDER_CODE": SIM_PROVIDER_CODE,
        "MPESA_TZ_BASE_URL": "http://openapi.test",
        "MPESA_TZ_CONNECT_TIMEOUT_S": 1.0,
        "MPESA_TZ_READ_TIMEOUT_S": 2.0,
        "MPESA_TZ_C2B_READ_TIMEOUT_S": 5.0,
    }
    values.update(overrides)
    return make_settings(**values).openapi()


class RecordingBearers(BearerFactory):
    """A BearerFactory that keeps every Authorization value it made (the values sent, in order)."""

    def __init__(self, public_key: str) -> None:
        super().__init__(public_key)
        self.made: list[str] = []
        self._lock = threading.Lock()

    def authorization(self, value: str) -> str:
        header = super().authorization(value)
        with self._lock:
            self.made.append(header)
        return header


def build_openapi_client(
    settings: OpenApiSettings,
    *,
    clock: Clock = SYSTEM_CLOCK,
    breaker: CircuitBreaker | None = None,
    memory: MemoryCredentialCache | None = None,
    **options: Any,
) -> OpenApiClient:
    """A client with its own session memory and breaker (so tests do not share container state)."""
    options.setdefault("backoff_factor", FAST_BACKOFF)
    if "sessions" not in options and "state_table_name" not in options:
        options["sessions"] = SessionProvider(
            session_cache_key(settings.api_root, settings.api_key.get_secret_value()),
            memory=memory or MemoryCredentialCache(),
            clock=clock,
        )
    if breaker is None and "state_table_name" not in options:
        breaker = CircuitBreaker("openapi-test", store=MemoryBreakerStore())
    return OpenApiClient(settings, clock=clock, breaker=breaker, **options)


class OpenApiControl:
    """The simulator's control API, OpenAPI parts (and the shared faults, config and request log)."""

    def __init__(self, server: SimulatorServer) -> None:
        self.server = server
        self.url = server.url
        self._http = requests.Session()

    def _call(self, method: str, route: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        response = self._http.request(method, f"{self.url}/simulator{route}", json=body, params=params, timeout=5)
        assert response.status_code < 300, f"{method} {route}: {response.status_code} {response.text}"
        if response.headers.get("Content-Type", "").startswith("text/plain"):
            return response.text
        return response.json()

    def public_key(self, fmt: str | None = None) -> str:
        text: str = self._call("GET", "/openapi/public-key", params={"format": fmt} if fmt else None)
        return text

    def configure(self, **changes: Any) -> None:
        self._call("PATCH", "/config", changes)

    def reset(self) -> None:
        self._call("POST", "/reset")
        self._call("DELETE", "/requests")

    def fault(self, path: str, kind: str, **spec: Any) -> None:
        self._call("POST", "/faults", {"path": path, "kind": kind, **spec})

    def requests(self, path: str) -> list[dict[str, Any]]:
        """Requests received on `path` (faulted ones included), oldest first."""
        entries: list[dict[str, Any]] = self._call("GET", "/requests", params={"path": path})
        return entries

    def statuses(self, path: str) -> list[int | None]:
        return [entry["status"] for entry in self.requests(path)]

    def calls(self, **filters: str) -> list[dict[str, Any]]:
        """Requests that reached an OpenAPI handler (`operation`, `http_status`, `response_code`...)."""
        found: list[dict[str, Any]] = self._call("GET", "/openapi/calls", params=filters or None)
        return found

    def call_counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = self._call("GET", "/openapi/call-counts")
        return counts

    def transactions(self, **filters: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("GET", "/openapi/transactions", params=filters or None)
        return found

    def expire_sessions(self) -> int:
        expired: int = self._call("POST", "/openapi/sessions/expire")["expired"]
        return expired

    def balance(self) -> str:
        value: str = self._call("GET", "/openapi/balance")["balance"]
        return value

    def set_balance(self, amount: str) -> None:
        self._call("PUT", "/openapi/balance", {"balance": amount})

    def prompts(self, msisdn: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("GET", "/prompts", params={"msisdn": msisdn})
        return found

    def accept(self, prompt_id: str, pin: str = "1234") -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", f"/prompts/{prompt_id}/accept", {"pin": pin})
        return result
