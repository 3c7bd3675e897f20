"""Time: now, ISO instants for records and events, deadlines on the monotonic clock, and an injectable
wall clock for state shared between containers (token expiry, leases, breaker windows)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

NAIROBI = ZoneInfo("Africa/Nairobi")  # Daraja's timestamps are Kenyan time (EAT, UTC+3)
TIMESTAMP_FORMAT = "%Y%m%d%H%M%S"  # Daraja's YYYYMMDDHHmmss


def now_utc() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """`2026-12-01T09:30:00.123Z`: sortable text, as records and events store instants."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Deadline:
    """An instant on this process's monotonic clock by which a whole operation must be over."""

    at: float

    @classmethod
    def within(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    @classmethod
    def from_remaining_ms(cls, remaining_ms: Callable[[], int] | int, *, reserve_s: float = 1.0) -> Deadline:
        """From a Lambda context's `get_remaining_time_in_millis`, keeping `reserve_s` to record results."""
        millis = remaining_ms() if callable(remaining_ms) else remaining_ms
        return cls.within(millis / 1000 - reserve_s)

    def remaining_s(self) -> float:
        return self.at - time.monotonic()

    def earliest(self, other: Deadline | None) -> Deadline:
        return self if other is None or self.at <= other.at else other

    def minus(self, seconds: float) -> Deadline:
        """The instant `seconds` before this one (time kept back for what comes after)."""
        return Deadline(self.at - seconds)


class Clock(Protocol):
    """Wall-clock time, injectable in tests."""

    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM_CLOCK = SystemClock()
