"""A WSGI app served by a threaded werkzeug server on a background thread (the front, moto, test fronts)."""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class QuietRequestHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None  # the server's owner logs what it needs (the Front: one line per API call)


class HttpServer:
    """A threaded werkzeug server for a WSGI app, bound at construction (a busy port raises OSError)."""

    def __init__(
        self,
        host: str,
        port: int,
        app: Any,
        name: str,
        *,
        request_handler: type[WSGIRequestHandler] = QuietRequestHandler,
    ) -> None:
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True, request_handler=request_handler)
        self.host = host
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
