"""Listing records a page at a time: the query parameters every list route shares, its opaque cursor,
and the day listings of GET /v1/payments and GET /v1/payouts.

A cursor is base64 JSON of the store's position and the query it belongs to (its scope), so a cursor
is refused (422 naming `next`) with any other query; the store checks the position itself, since a
forged one must be the caller's error and never reach DynamoDB as a start key.

Day listings (parameters: anything else is refused, naming it): `date` (a Nairobi day, YYYY-MM-DD;
default today), `status` (one of the record statuses), `limit` (1 to 100, default 50) and `next`.
A page may hold fewer than `limit` records, even none, and still have a `next`: the store bounds the
reads of one page (records/day_index.py); follow `next` until it is null.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from mpesa.clock import NAIROBI
from mpesa.errors import InputError
from mpesa.records.model import Kind, Record, Status
from mpesa.records.outbox import EventCatalog, events_of
from mpesa.records.store import RecordStore

DEFAULT_LIMIT, MAX_LIMIT = 50, 100
CURSOR_MAX = 2048
DAY_PARAMETERS = ("date", "status", "limit", "next")


def refuse_unknown(params: Mapping[str, str], known: Sequence[str]) -> None:
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise InputError(unknown[0], f"is not a parameter of this route ({', '.join(known)})")


def parse_limit(params: Mapping[str, str]) -> int:
    text = params.get("limit")
    if text is None:
        return DEFAULT_LIMIT
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_LIMIT:
        raise InputError("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
    return int(text)


def encode_cursor(position: Mapping[str, str], scope: Sequence[str]) -> str:
    payload = {"q": list(scope), "p": dict(position)}
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(text: str, scope: Sequence[str], invalid: InputError) -> Mapping[str, str]:
    """The position of a cursor this route gave for the same query (`scope`); `invalid` otherwise."""
    if len(text) > CURSOR_MAX:
        raise invalid
    try:
        payload = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid from None
    if not isinstance(payload, dict) or payload.get("q") != list(scope):
        raise invalid
    position = payload.get("p")
    if not isinstance(position, dict) or not all(isinstance(v, str) for v in position.values()):
        raise invalid
    return position


@dataclass(frozen=True)
class DayQuery:
    kind: Kind
    day: date
    status: Status | None
    limit: int
    position: Mapping[str, str] | None

    @property
    def scope(self) -> list[str]:
        return [self.kind.value, self.day.isoformat(), self.status.value if self.status else ""]


def parse_day_query(kind: Kind, params: Mapping[str, str], now: datetime) -> DayQuery:
    refuse_unknown(params, DAY_PARAMETERS)
    day = _day(params["date"]) if params.get("date") is not None else now.astimezone(NAIROBI).date()
    status = None
    if params.get("status") is not None:
        try:
            status = Status(params["status"])
        except ValueError:
            raise InputError("status", f"must be one of {', '.join(s.value for s in Status)}") from None
    limit = parse_limit(params)
    query = DayQuery(kind, day, status, limit, None)
    if params.get("next") is not None:
        invalid = InputError("next", "is not a cursor this route gave for this date and status")
        query = DayQuery(kind, day, status, limit, decode_cursor(params["next"], query.scope, invalid))
    return query


def _day(text: str) -> date:
    invalid = InputError("date", "must be a date, YYYY-MM-DD (a Nairobi day)")
    # fromisoformat also takes 20261126 and week dates: the API promises YYYY-MM-DD only.
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        raise invalid
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise invalid from None


def list_day(
    store: RecordStore,
    kind: Kind,
    params: Mapping[str, str],
    now: datetime,
    view: Callable[[Record], dict[str, Any]],
    catalog: EventCatalog,
) -> dict[str, Any]:
    """One page of a day's records of `kind`, newest first, each in its public view (the single-record
    GET's) with the events its record says were announced or are owed."""
    query = parse_day_query(kind, params, now)
    page = store.page_of_day(kind, query.day, query.status, query.limit, query.position)
    return {
        "date": query.day.isoformat(),
        "items": [{**view(record), "events": events_of(record, catalog)} for record in page.records],
        "next": None if page.position is None else encode_cursor(page.position, query.scope),
    }
