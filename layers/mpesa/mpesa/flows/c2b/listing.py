"""GET /v1/c2b/transactions: payments between two instants, newest first, a page at a time.

Parameters (anything else is refused, naming it): `from` and `to` (ISO 8601 dates, taken as UTC days,
or instants with a time zone; `to` defaults to now, `from` to 7 days before `to`; a date `to` includes
that whole day; at most 31 days apart), `limit` (1 to 100, default 50) and `next` (the opaque cursor of
the previous page, valid only with the same `from` and `to`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from mpesa.clock import iso
from mpesa.errors import InputError
from mpesa.flows.c2b.expected import parse_instant
from mpesa.records import listing

DEFAULT_SPAN = timedelta(days=7)
MAX_SPAN = timedelta(days=31)
PARAMETERS = ("from", "to", "limit", "next")


@dataclass(frozen=True)
class ListQuery:
    start: datetime  # inclusive
    end: datetime  # exclusive
    limit: int
    position: Mapping[str, str] | None


def parse_query(params: Mapping[str, str], now: datetime) -> ListQuery:
    listing.refuse_unknown(params, PARAMETERS)
    end = _bound(params["to"], "to", end=True) if params.get("to") else now
    start = _bound(params["from"], "from", end=False) if params.get("from") else end - DEFAULT_SPAN
    if start >= end:
        raise InputError("from", "must be before to")
    if end - start > MAX_SPAN:
        raise InputError("from", f"must be at most {MAX_SPAN.days} days before to")
    limit = listing.parse_limit(params)
    position = decode_cursor(params["next"], start, end) if params.get("next") else None
    return ListQuery(start, end, limit, position)


def _bound(text: str, field: str, *, end: bool) -> datetime:
    if len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise InputError(field, "must be a date (YYYY-MM-DD) or an ISO 8601 instant with a time zone") from None
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return moment + timedelta(days=1) if end else moment
    return parse_instant(text, field).astimezone(UTC)


def encode_cursor(position: Mapping[str, str], query: ListQuery) -> str:
    return listing.encode_cursor(position, [iso(query.start), iso(query.end)])


def decode_cursor(text: str, start: datetime, end: datetime) -> Mapping[str, str]:
    invalid = InputError("next", "is not a cursor this route gave for these from and to")
    return listing.decode_cursor(text, [iso(start), iso(end)], invalid)
