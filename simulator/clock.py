"""Time in Kenya (EAT, Africa/Nairobi) in the formats Daraja uses, plus a monotonic clock for expiries."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

NAIROBI = ZoneInfo("Africa/Nairobi")
COMPACT = "%Y%m%d%H%M%S"  # YYYYMMDDHHmmss: Timestamp, TransactionDate, TransTime
DOTTED = "%d.%m.%Y %H:%M:%S"  # dd.MM.yyyy HH:mm:ss: TransactionCompletedDateTime


def now_eat() -> datetime:
    return datetime.now(tz=NAIROBI)


def monotonic() -> float:
    return time.monotonic()


def compact(moment: datetime) -> str:
    return moment.astimezone(NAIROBI).strftime(COMPACT)


def compact_number(moment: datetime) -> int:
    """YYYYMMDDHHmmss as a JSON number (STK TransactionDate, balance BOCompletedTime)."""
    return int(compact(moment))


def dotted(moment: datetime) -> str:
    return moment.astimezone(NAIROBI).strftime(DOTTED)


def iso(moment: datetime) -> str:
    return moment.astimezone(NAIROBI).isoformat(timespec="milliseconds")


def parse_compact(text: str) -> datetime | None:
    """Parse a Daraja Timestamp (exactly 14 digits, a real calendar time, EAT) or return None."""
    if len(text) != 14 or not text.isdigit():
        return None
    try:
        return datetime.strptime(text, COMPACT).replace(tzinfo=NAIROBI)
    except ValueError:
        return None
