"""The by-day index: every record under its Nairobi day in DAY_SHARDS shards (`day` =
`<YYYY-MM-DD>#<shard>`, range key `created_at`), projecting `kind` (which never changes) so that a
listing filters by kind in the index; a status filter is applied to the records read, so a page may be
short (docs/decisions.md, "Listing a day").

A page of one kind (and status), newest first, merges the shards: each is read newest first into a
queue of matching index entries, and the newest head is taken only while every shard that may still
hold entries has one queued, so nothing unread can be newer. The position keeps, per shard, where its
next read starts: after the last entry taken from it, or, once it has nothing queued, after the last
entry it read. A page makes at most QUERY_BUDGET index reads of at most max(limit, MIN_READ) entries:
when the budget runs out first, the page is short (even empty) and its position carries on. Every
page takes an entry or moves a shard on by a whole read, so following the positions ends.

A whole day, or a span of days, is read shard by shard (`keys_created_on`, `keys_created_between`).
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key

from mpesa.clock import NAIROBI, iso
from mpesa.errors import InputError
from mpesa.records.model import Kind, Status

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

DAY_INDEX = "by-day"
DAY_SHARDS = 8  # partitions of a day, so a busy day does not heat one partition
MIN_READ = 32  # index entries are ~110 bytes: 32 of them cost what one does (a 4 KB read unit)
QUERY_BUDGET = 4 * DAY_SHARDS  # index reads per page, whatever the filters
END = "end"  # a shard with nothing left
_ENTRY_KEY = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z) (txn#[A-Za-z0-9]{1,64})")


def day_partition(day: date, transaction_id: str) -> str:
    """The by-day index's partition of a record: its Nairobi date and a shard from its id."""
    shard = int(hashlib.sha256(transaction_id.encode()).hexdigest()[:8], 16) % DAY_SHARDS
    return f"{day.isoformat()}#{shard}"


def keys_created_on(table: Table, day: date) -> Iterator[list[dict[str, Any]]]:
    """The table keys of every record created on `day`, a page of the index at a time, every shard."""
    for shard in range(DAY_SHARDS):
        query: dict[str, Any] = {
            "IndexName": DAY_INDEX,
            "KeyConditionExpression": Key("day").eq(f"{day.isoformat()}#{shard}"),
        }
        while True:
            page = table.query(**query)
            yield [{"pk": item["pk"]} for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def keys_created_between(table: Table, kind: Kind, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The table keys of the records of `kind` created in [start, end), each with its `created_at`: each
    Nairobi day the span touches, every shard, kind filtered in the index (it projects `kind`)."""
    keys: list[dict[str, Any]] = []
    first, last = start.astimezone(NAIROBI).date(), end.astimezone(NAIROBI).date()
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    for day in days:
        for shard in range(DAY_SHARDS):
            query: dict[str, Any] = {
                "IndexName": DAY_INDEX,
                "KeyConditionExpression": Key("day").eq(f"{day.isoformat()}#{shard}")
                & Key("created_at").between(iso(start), iso(end)),
                "FilterExpression": Attr("kind").eq(kind.value),
            }
            while True:
                page = table.query(**query)
                keys += [
                    {"pk": item["pk"], "created_at": str(item["created_at"])}
                    for item in page.get("Items", [])
                    if str(item["created_at"]) < iso(end)
                ]
                if "LastEvaluatedKey" not in page:
                    break
                query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return keys


@dataclass
class _Shard:
    partition: str
    start: dict[str, str] | None  # the next read's ExclusiveStartKey; None: from the newest
    exhausted: bool
    after: dict[str, str] | None  # where this page found it, then the last entry taken from it
    queue: deque[dict[str, Any]] = field(default_factory=deque)

    def position(self) -> str | None:
        """Where the next page starts in this shard (None: from the newest)."""
        if self.queue:
            return _text(self.after)
        return END if self.exhausted else _text(self.start)


def _text(key: Mapping[str, Any] | None) -> str | None:
    return None if key is None else f"{key['created_at']} {key['pk']}"


def read_day_page(
    table: Table, kind: Kind, day: date, status: Status | None, limit: int, position: Mapping[str, str] | None
) -> tuple[list[dict[str, str]], Mapping[str, str] | None]:
    """The table keys of one page, newest first, and the position of the next (None at the end)."""
    shards = _shards(day, position or {})
    # Only `kind` is in the index: a status changes with every settlement, and projecting it would cost
    # an index write each time; the store filters the records it reads by status instead.
    matches: ConditionBase = Attr("kind").eq(kind.value)
    reads = 0
    taken: list[dict[str, str]] = []
    while len(taken) < limit:
        hungry = [s for s in shards if not s.queue and not s.exhausted]
        if hungry:
            if reads + len(hungry) > QUERY_BUDGET:
                break
            for shard in hungry:
                _read(table, shard, matches, max(limit, MIN_READ))
            reads += len(hungry)
            continue
        ready = [s for s in shards if s.queue]
        if not ready:
            break
        newest = max(ready, key=lambda s: (s.queue[0]["created_at"], s.queue[0]["pk"]))
        entry = newest.queue.popleft()
        newest.after = {"day": newest.partition, "created_at": entry["created_at"], "pk": entry["pk"]}
        taken.append({"pk": str(entry["pk"])})
    next_position = {str(n): text for n, s in enumerate(shards) if (text := s.position()) is not None}
    if all(value == END for value in next_position.values()) and len(next_position) == DAY_SHARDS:
        return taken, None
    return taken, next_position


def _read(table: Table, shard: _Shard, matches: ConditionBase, count: int) -> None:
    query: dict[str, Any] = {
        "IndexName": DAY_INDEX,
        "KeyConditionExpression": Key("day").eq(shard.partition),
        "FilterExpression": matches,
        "ScanIndexForward": False,
        "Limit": count,
    }
    if shard.start is not None:
        query["ExclusiveStartKey"] = shard.start
    page = table.query(**query)
    shard.queue.extend(page.get("Items", []))
    last = page.get("LastEvaluatedKey")
    shard.start = None if last is None else {k: str(v) for k, v in last.items()}
    shard.exhausted = last is None


def _shards(day: date, position: Mapping[str, str]) -> list[_Shard]:
    """Each shard where the position says, checked: a forged position is the caller's error and never
    reaches DynamoDB as a start key."""
    invalid = InputError("next", "is not a cursor this route gave for this date and status")
    if not set(position) <= {str(n) for n in range(DAY_SHARDS)}:
        raise invalid
    shards = []
    for number in range(DAY_SHARDS):
        partition = f"{day.isoformat()}#{number}"
        text = position.get(str(number))
        if text is None or text == END:
            shards.append(_Shard(partition, None, exhausted=text == END, after=None))
            continue
        found = _ENTRY_KEY.fullmatch(text)
        if found is None:
            raise invalid
        key = {"day": partition, "created_at": found.group(1), "pk": found.group(2)}
        shards.append(_Shard(partition, key, exhausted=False, after=key))
    return shards
