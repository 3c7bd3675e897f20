"""A record as an item of the transactions table: its key, the Record an item reads as, the item a new
record is written as, and what every write to a record shares (its status names, its reads and flags).

Item: `pk = txn#<transaction_id>`, the record's fields, M-Pesa's identifiers as top-level attributes
(a payout's ConversationID indexed: `by-conversation-id`; a CheckoutRequestID is not, since every push
names its record in its signed callback URL), and while something is owed the sparse `by-pending` index
keys: `pending_bucket` (the kind, while waiting for an outcome; OUTBOX_BUCKET while an event is owed) and
`next_check_at`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mpesa.clock import NAIROBI, iso, now_utc
from mpesa.records.day_index import day_partition
from mpesa.records.model import Flag, Kind, NewRecord, Record, RecordNotFoundError, Ref, SettledBy, Status

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

OPEN = {":pending": Status.PENDING.value, ":unknown": Status.UNKNOWN.value}
STATUS = {"#status": "status"}


def record_key(transaction_id: str) -> dict[str, str]:
    return {"pk": f"txn#{transaction_id}"}


def record_from_item(item: Mapping[str, Any]) -> Record:
    return Record(
        kind=Kind(str(item["kind"])),
        transaction_id=str(item["transaction_id"]),
        status=Status(str(item["status"])),
        country=str(item["country"]),
        currency=str(item["currency"]),
        amount=int(item["amount"]),
        msisdn=str(item["msisdn"]),
        created_at=str(item["created_at"]),
        updated_at=str(item["updated_at"]),
        details={str(k): str(v) for k, v in (item.get("details") or {}).items()},
        refs={ref: str(item[ref.value]) for ref in Ref if item.get(ref.value) is not None},
        result_code=_opt(item, "result_code"),
        result_desc=_opt(item, "result_desc"),
        receipt=_opt(item, "receipt"),
        paid_at=_opt(item, "paid_at"),
        settled_at=_opt(item, "settled_at"),
        settled_by=SettledBy(str(item["settled_by"])) if item.get("settled_by") else None,
        flags=tuple(sorted(str(f) for f in item.get("flags", ()))),
        late_success=item.get("late_success"),
        event_published=bool(item.get("event_published", False)),
        late_event_published=bool(item.get("late_event_published", True)),
        linked_transaction_id=_opt(item, "linked_transaction_id"),
        send_claimed_at=_opt(item, "send_claimed_at"),
        pending_bucket=_opt(item, "pending_bucket"),
    )


def _opt(item: Mapping[str, Any], key: str) -> str | None:
    value = item.get(key)
    return None if value is None else str(value)


def new_item(new: NewRecord, now: datetime) -> dict[str, Any]:
    """The item of a record created PENDING at `now` (under its Nairobi day in the day index)."""
    stamp = iso(now)
    item: dict[str, Any] = {
        **record_key(new.transaction_id),
        "day": day_partition(now.astimezone(NAIROBI).date(), new.transaction_id),
        "record_type": new.kind.record_type,
        "kind": new.kind.value,
        "transaction_id": new.transaction_id,
        "status": Status.PENDING.value,
        "country": new.country,
        "currency": new.currency,
        "amount": new.amount,
        "msisdn": new.msisdn,
        "details": dict(new.details),
        **{ref.value: value for ref, value in new.refs.items()},
        "created_at": stamp,
        "updated_at": stamp,
        "event_published": False,
    }
    if new.next_check_at is not None:
        item |= {"pending_bucket": new.kind.value, "next_check_at": iso(new.next_check_at)}
    return item


def read_record(table: Table, transaction_id: str) -> Record:
    item = table.get_item(Key=record_key(transaction_id), ConsistentRead=True).get("Item")
    if item is None:
        raise RecordNotFoundError(transaction_id)
    return record_from_item(item)


def read_records(table: Table, keys: list[dict[str, Any]]) -> Iterator[Record]:
    """BatchGetItem in chunks of 100, retrying what DynamoDB leaves unprocessed."""
    resource = table.meta.client
    for start in range(0, len(keys), 100):
        request: Any = {table.name: {"Keys": keys[start : start + 100]}}
        while request:
            answer = resource.batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(table.name, []):
                yield record_from_item(item)
            request = answer.get("UnprocessedKeys") or None


def flag_record(table: Table, transaction_id: str, flag: Flag) -> None:
    table.update_item(
        Key=record_key(transaction_id),
        UpdateExpression="ADD flags :f SET updated_at = :u",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":f": {flag.value}, ":u": iso(now_utc())},
    )
