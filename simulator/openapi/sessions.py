"""Sessions issued by ``getSession/``: scoped to one environment and market, living a fixed time.

A session is usable from ``openapi_session_activation_delay_s`` after issue (0: at once) until
``openapi_session_ttl_s`` after issue. Expired sessions are dropped lazily when looked up.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from simulator import clock
from simulator.openapi.ids import OpenApiIds

Environment = Literal["sandbox", "openapi"]
SessionState = Literal["live", "not_yet_active", "expired", "unknown"]


@dataclass(frozen=True)
class Session:
    session_id: str
    environment: Environment
    market: str
    created_at: datetime
    expires_at: datetime
    active_from_mono: float
    expires_mono: float


class SessionStore:
    def __init__(self, ids: OpenApiIds) -> None:
        self._ids = ids
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def issue(self, environment: Environment, market: str, ttl_s: float, activation_delay_s: float) -> Session:
        now, mono = clock.now_eat(), clock.monotonic()
        session = Session(
            session_id=self._ids.session_id(),
            environment=environment,
            market=market,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_s),
            active_from_mono=mono + activation_delay_s,
            expires_mono=mono + ttl_s,
        )
        with self._lock:
            self._sessions[session.session_id] = session
        return session

    def state(self, session_id: str, environment: Environment, market: str) -> SessionState:
        """``live`` only for a session issued for this environment and market, active and unexpired."""
        mono = clock.monotonic()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None and mono >= session.expires_mono:
                del self._sessions[session_id]
                return "expired"
        if session is None or session.environment != environment or session.market != market:
            return "unknown"
        if mono < session.active_from_mono:
            return "not_yet_active"
        return "live"

    def expire_all(self) -> int:
        with self._lock:
            count = len(self._sessions)
            self._sessions.clear()
            return count

    def views(self) -> list[dict[str, Any]]:
        """Live sessions for the control API; the ID is shortened (it is a bearer secret)."""
        mono = clock.monotonic()
        with self._lock:
            live = [s for s in self._sessions.values() if s.expires_mono > mono]
        return [
            {
                "session_id_prefix": s.session_id[:6],
                "environment": s.environment,
                "market": s.market,
                "created_at": clock.iso(s.created_at),
                "expires_at": clock.iso(s.expires_at),
                "active": s.active_from_mono <= mono,
            }
            for s in live
        ]
