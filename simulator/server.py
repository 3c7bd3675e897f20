"""Serve the simulator over HTTP with werkzeug in a daemon thread (in-process, for tests)."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from simulator.app import create_app
from simulator.config import SimulatorConfig
from simulator.core import Simulator


class _QuietHandler(WSGIRequestHandler):
    """No per-request access log lines (the simulator keeps its own request log)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class SimulatorServer:
    """A running Daraja simulator.

    >>> srv = SimulatorServer(port=0).start()   # doctest: +SKIP
    >>> srv.url                                  # doctest: +SKIP
    'http://127.0.0.1:54321'
    >>> srv.stop()                               # doctest: +SKIP
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        config: SimulatorConfig | None = None,
        *,
        log_requests: bool = False,
    ) -> None:
        self.simulator = Simulator(config)
        self._server: BaseWSGIServer = make_server(
            host,
            port,
            create_app(self.simulator),
            threaded=True,
            request_handler=WSGIRequestHandler if log_requests else _QuietHandler,
        )
        self.host = host
        self._thread = threading.Thread(target=self._server.serve_forever, name="sim-http", daemon=True)
        self._started = False

    @property
    def port(self) -> int:
        """The bound port (the real one when constructed with port 0)."""
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:54321``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def config(self) -> SimulatorConfig:
        return self.simulator.config

    @property
    def certificate_pem(self) -> str:
        return self.simulator.keys.certificate_pem

    @property
    def openapi_public_key(self) -> str:
        """The OpenAPI public key as the portal shows it (base64 DER), as ``GET /simulator/openapi/public-key``."""
        return self.simulator.openapi.keys.public_key_b64

    def configure(self, **changes: Any) -> SimulatorConfig:
        """Patch the live config (same rules as ``PATCH /simulator/config``)."""
        return self.simulator.configure(changes)

    def reset(self) -> None:
        self.simulator.reset()

    def start(self) -> SimulatorServer:
        if not self._started:
            self._started = True
            self.simulator.start()
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._started:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
        self.simulator.stop()

    def serve_forever(self) -> None:
        """Run in the calling thread until interrupted (used by ``python -m simulator``)."""
        self._started = True
        self.simulator.start()
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()
            self.simulator.stop()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
