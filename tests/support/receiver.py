"""A tiny HTTP server that records the callbacks the simulator POSTs to it."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response


@dataclass(frozen=True)
class Received:
    path: str
    body: Any
    raw: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: str = '{"ResultCode": 0, "ResultDesc": "Accepted"}'
    delay_s: float = 0.0


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class CallbackReceiver:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._records: list[Received] = []
        self._replies: dict[str, Reply] = {}
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_Quiet)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> CallbackReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        with self._cond:
            self._records.clear()
            self._replies.clear()

    def reply(self, path: str, reply: Reply) -> None:
        """Answer POSTs to ``path`` with ``reply`` (default: 200 and an acceptance body)."""
        with self._cond:
            self._replies[path] = reply

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        raw = request.get_data(as_text=True)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        with self._cond:
            reply = self._replies.get(request.path, Reply())
        if reply.delay_s:
            time.sleep(reply.delay_s)
        with self._cond:
            self._records.append(Received(request.path, body, raw, dict(request.headers)))
            self._cond.notify_all()
        response = Response(reply.body, status=reply.status, mimetype="application/json")
        return response(environ, start_response)

    def records(self, path: str | None = None) -> list[Received]:
        with self._cond:
            return [r for r in self._records if path is None or r.path == path]

    def wait(self, path: str, count: int = 1, timeout: float = 5.0) -> list[Received]:
        """Block until ``count`` POSTs reached ``path``; fail the test after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [r for r in self._records if r.path == path]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} callback(s) on {path}, got {len(found)}")
                self._cond.wait(remaining)
