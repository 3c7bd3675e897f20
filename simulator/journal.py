"""Append-only, thread-safe logs the control API exposes: API requests received, callbacks sent."""

from __future__ import annotations

import itertools
import threading
from typing import Any

MASKED_FIELDS = frozenset({"Password", "SecurityCredential"})
MAX_RESPONSE_BODY = 2000


def mask(body: Any) -> Any:
    """Replace secrets (Password, SecurityCredential) by "***" at the top level of a JSON object."""
    if isinstance(body, dict):
        return {key: ("***" if key in MASKED_FIELDS else value) for key, value in body.items()}
    return body


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []

    def record(
        self, method: str, path: str, time: str, status: int | None, body: Any, fault: dict[str, Any] | None = None
    ) -> None:
        # `fault`: the injected fault this request consumed, so a soak can tell which record saw which fault.
        entry = {"method": method, "path": path, "time": time, "status": status, "body": mask(body), "fault": fault}
        with self._lock:
            self._entries.append(entry)

    def entries(self, path: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._entries if path is None or e["path"] == path]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class CallbackLog:
    """One entry per delivery attempt (a duplicated callback appears once per copy)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._generation = 0

    @property
    def generation(self) -> int:
        with self._lock:
            return self._generation

    def record(
        self,
        *,
        generation: int,
        url: str,
        kind: str,
        payload: Any,
        delivered: bool,
        response_status: int | None,
        error: str | None,
        time: str,
        response_body: str | None = None,
        shape: str = "standard",
    ) -> None:
        """Append unless the log was cleared since the callback was created (stale generation)."""
        with self._lock:
            if generation != self._generation:
                return
            self._entries.append(
                {
                    "id": next(self._ids),
                    "url": url,
                    "kind": kind,
                    "payload": payload,
                    "delivered": delivered,
                    "response_status": response_status,
                    "error": error,
                    "time": time,
                    "response_body": None if response_body is None else response_body[:MAX_RESPONSE_BODY],
                    "shape": shape,
                }
            )

    def entries(self, kind: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._entries if kind is None or e["kind"] == kind]

    def clear(self) -> None:
        """Empty the log; callbacks already scheduled are still delivered and logged."""
        with self._lock:
            self._entries.clear()

    def reset(self) -> None:
        """Empty the log and start a new generation: callbacks created before are never sent."""
        with self._lock:
            self._entries.clear()
            self._generation += 1
