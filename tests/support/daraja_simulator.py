"""Daraja tests over loopback: a callback receiver, the simulator's control API, and clients wired to them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from mpesa.clock import SYSTEM_CLOCK, Clock
from mpesa.daraja.acks import c2b_validation_accept, callback_ack
from mpesa.daraja.breaker import CircuitBreaker, MemoryBreakerStore
from mpesa.daraja.client import DarajaClient
from mpesa.daraja.tokens import MemoryTokenCache, TokenProvider, token_cache_key
from mpesa.settings import MpesaSettings
from simulator.server import SimulatorServer

FAST_BACKOFF = 0.01  # production: 2 (2 s, 4 s, 8 s)


@dataclass(frozen=True)
class Received:
    path: str
    body: str


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class CallbackReceiver:
    """Records every POST; answers like our webhooks (C2B validation accepts, the rest acknowledge)."""

    def __init__(self) -> None:
        self._received: list[Received] = []
        self._cond = threading.Condition()
        self._server: BaseWSGIServer = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_Quiet)
        self._thread = threading.Thread(target=self._server.serve_forever, name="callback-receiver", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        with self._cond:
            self._received.append(Received(request.path, request.get_data(as_text=True)))
            self._cond.notify_all()
        answer = c2b_validation_accept() if request.path.endswith("/validation") else callback_ack()
        return Response(json.dumps(answer), mimetype="application/json")(environ, start_response)

    def wait_for(self, path: str, contains: str = "", timeout_s: float = 10.0) -> str:
        """The body of the first POST to `path` whose body contains `contains` (waits for it)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                for item in self._received:
                    if item.path == path and contains in item.body:
                        return item.body
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [r.path for r in self._received]
                    raise AssertionError(f"no callback to {path} containing {contains!r}; received {seen}")
                self._cond.wait(left)

    def received(self, path: str) -> list[str]:
        with self._cond:
            return [r.body for r in self._received if r.path == path]

    def clear(self) -> None:
        with self._cond:
            self._received.clear()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class SimulatorControl:
    def __init__(self, server: SimulatorServer) -> None:
        self.server = server
        self.url = server.url
        self._http = requests.Session()

    def _call(self, method: str, route: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        response = self._http.request(method, f"{self.url}/simulator{route}", json=body, params=params, timeout=5)
        assert response.status_code < 300, f"{method} {route}: {response.status_code} {response.text}"
        return response.json()

    def configure(self, **changes: Any) -> None:
        self._call("PATCH", "/config", changes)

    def fault(self, path: str, kind: str, **spec: Any) -> None:
        self._call("POST", "/faults", {"path": path, "kind": kind, **spec})

    def requests(self, path: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self._call("GET", "/requests", params={"path": path})
        return entries

    def revoke_tokens(self) -> None:
        self._call("POST", "/tokens/revoke")

    def prompts(self, msisdn: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("GET", "/prompts", params={"msisdn": msisdn})
        return found

    def accept(self, checkout_request_id: str, pin: str = "1234") -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", f"/prompts/{checkout_request_id}/accept", {"pin": pin})
        return result

    def receipts(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("GET", "/receipts")
        return found

    def reset(self) -> None:
        self._call("POST", "/reset")
        self._call("DELETE", "/requests")


def build_client(
    settings: MpesaSettings,
    *,
    clock: Clock = SYSTEM_CLOCK,
    breaker: CircuitBreaker | None = None,
    memory: MemoryTokenCache | None = None,
    **options: Any,
) -> DarajaClient:
    """A client with its own token memory and breaker (so tests do not share container state)."""
    options.setdefault("backoff_factor", FAST_BACKOFF)
    if "tokens" not in options and "state_table_name" not in options:
        options["tokens"] = TokenProvider(
            token_cache_key(settings.consumer_key.get_secret_value(), settings.daraja_base_url),
            memory=memory or MemoryTokenCache(),
            clock=clock,
        )
    return DarajaClient(settings, clock=clock, breaker=breaker or CircuitBreaker(store=MemoryBreakerStore()), **options)
