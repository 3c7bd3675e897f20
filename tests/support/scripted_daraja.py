"""A loopback HTTP server scripted per request, for what the simulator cannot do: stop listening in
the middle of a call (the next connection is refused), never answer, or trickle an answer byte by byte.

Every answer closes its connection (`Connection: close`), so each client attempt is a new connection
and "stop listening" deterministically makes the next attempt a connection refused.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TOKEN_ANSWER = {"access_token": "scripted-token", "expires_in": "3599"}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http_message(status: int, body: bytes = b"", reason: str = "Status") -> bytes:
    head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "Connection: close\r\n\r\n").encode() + body


def json_message(status: int, payload: Any) -> bytes:
    return http_message(status, json.dumps(payload).encode())


class Exchange:
    """The server side of one request: what a script may do with the connection."""

    def __init__(self, server: ScriptedDaraja, conn: socket.socket, request: Request) -> None:
        self.server = server
        self.request = request
        self._conn = conn

    def reply(self, message: bytes) -> None:
        self._conn.sendall(message)

    def trickle(self, message: bytes, *, chunk: int, every_s: float) -> None:
        """Send `message` `chunk` bytes at a time; stops when the client goes away or the server stops."""
        for start in range(0, len(message), chunk):
            try:
                self._conn.sendall(message[start : start + chunk])
            except OSError:
                return
            if self.server.stopped.wait(every_s):
                return

    def hang(self) -> None:
        """Never answer (until the server stops)."""
        self.server.stopped.wait(30)


Script = Callable[[Exchange], None]


def answer_oauth_then(script: Script) -> Script:
    """OAuth GETs get a token; every other request goes to `script`."""

    def run(exchange: Exchange) -> None:
        if exchange.request.method == "GET":
            exchange.reply(json_message(200, TOKEN_ANSWER))
        else:
            script(exchange)

    return run


class ScriptedDaraja:
    def __init__(self, script: Script) -> None:
        self._script = script
        self.requests: list[Request] = []
        self.stopped = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="scripted-daraja", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def posts(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.method == "POST"]

    def stop_listening(self) -> None:
        """From now on connections are refused (the listening socket is gone)."""
        with self._lock:
            with contextlib.suppress(OSError):  # already shut
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()

    def stop(self) -> None:
        self.stopped.set()
        self.stop_listening()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            reader = conn.makefile("rb")
            line = reader.readline()
            if not line:
                return
            method, path, _ = line.decode("latin-1").split(" ", 2)
            headers: dict[str, str] = {}
            while (header := reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = header.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = reader.read(int(headers.get("content-length", "0")))
            request = Request(method, path, body)
            with self._lock:
                self.requests.append(request)
            try:
                self._script(Exchange(self, conn, request))
            except OSError:
                return
