"""The record store on DynamoDB (the transactions table): one item per record (items.py), every
transition one conditional write, so duplicate and concurrent writers change a record at most once.

Reads find records by id, by an indexed M-Pesa identifier, by day (day_index.py) and by what is due
(the sparse `by-pending` index); settling is settlement.py's, and the other writes are here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from mpesa.clock import iso, now_utc
from mpesa.records.day_index import keys_created_between, keys_created_on, read_day_page
from mpesa.records.dynamo import conditional_failed, update_if
from mpesa.records.items import (
    OPEN,
    STATUS,
    flag_record,
    new_item,
    read_record,
    read_records,
    record_from_item,
    record_key,
)
from mpesa.records.model import (
    NOT_SENT,
    Flag,
    Kind,
    NewRecord,
    Record,
    RecordExistsError,
    Ref,
    RefMismatchError,
    Settlement,
    SettleResult,
    Status,
)
from mpesa.records.receipts import claim_key
from mpesa.records.settlement import Settler
from mpesa.records.store import OUTBOX_BUCKET, RecordPage

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

# Records found by an identifier M-Pesa gave: a payout's ConversationID (MpesaService's default Result URL
# carries no record id). A CheckoutRequestID is not indexed: every push names its record in its signed
# callback URL, and an index entry would cost a write per payment.
_INDEX_FOR_REF = {Ref.CONVERSATION_ID: "by-conversation-id"}


class DynamoRecordStore:
    def __init__(self, table_name: str, *, table: Table | None = None) -> None:
        self._table = table or boto3.resource("dynamodb").Table(table_name)
        self._settler = Settler(self._table)

    # --- reads -------------------------------------------------------------------------------

    def get(self, transaction_id: str) -> Record:
        return read_record(self._table, transaction_id)

    def find(self, kind: Kind, ref: Ref, value: str) -> Record | None:
        index = _INDEX_FOR_REF.get(ref)
        if index is None:
            return None  # not indexed (a CheckoutRequestID: records are found by the id in their signed URL)
        response = self._table.query(IndexName=index, KeyConditionExpression=Key(ref.value).eq(value))
        for item in response.get("Items", []):
            if item.get("record_type") == kind.record_type:
                return record_from_item(item)
        return None

    def created_on(self, day: date) -> Iterator[Record]:
        for keys in keys_created_on(self._table, day):
            yield from read_records(self._table, keys)

    def page_of_day(
        self, kind: Kind, day: date, status: Status | None, limit: int, position: Mapping[str, str] | None
    ) -> RecordPage:
        keys, next_position = read_day_page(self._table, kind, day, status, limit, position)
        found = {record_key(r.transaction_id)["pk"]: r for r in read_records(self._table, keys)}  # in no order
        records = [found[key["pk"]] for key in keys if key["pk"] in found]
        # The index is eventually consistent: a record whose status moved on since is no longer this page's.
        return RecordPage([r for r in records if status is None or r.status is status], next_position)

    def created_between(self, kind: Kind, start: datetime, end: datetime, limit: int | None = None) -> list[Record]:
        """From the day index (each Nairobi day the span touches, every shard), kind filtered in the
        index (it projects `kind`); then only the oldest `limit` records are read, in batches (a backlog
        costs its index entries, not every record)."""
        keys = keys_created_between(self._table, kind, start, end)
        if limit is not None and len(keys) > limit:
            keys = sorted(keys, key=lambda k: (k["created_at"], k["pk"]))[:limit]
        keys = [{"pk": key["pk"]} for key in keys]
        return sorted(read_records(self._table, keys), key=lambda r: (r.created_at, r.transaction_id))

    def watermark(self, name: str) -> datetime | None:
        item = self._table.get_item(Key={"pk": f"watermark#{name}"}, ConsistentRead=True).get("Item")
        return None if item is None else datetime.fromisoformat(str(item["at"]))

    def set_watermark(self, name: str, moment: datetime) -> None:
        self._table.put_item(Item={"pk": f"watermark#{name}", "record_type": "watermark", "at": iso(moment)})

    def receipt_holder(self, receipt: str) -> str | None:
        item = self._table.get_item(Key=claim_key(receipt), ConsistentRead=True).get("Item")
        return None if item is None else str(item["transaction_id"])

    def due(self, bucket: str, before: datetime, limit: int = 100) -> list[Record]:
        response = self._table.query(
            IndexName="by-pending",
            KeyConditionExpression=Key("pending_bucket").eq(bucket) & Key("next_check_at").lte(iso(before)),
            Limit=limit,
        )
        return [record_from_item(item) for item in response.get("Items", [])]

    def reschedule(self, kind: Kind, transaction_id: str, next_check_at: datetime) -> bool:
        return update_if(
            self._table,
            Key=record_key(transaction_id),
            UpdateExpression="SET pending_bucket = :bucket, next_check_at = :n",
            ConditionExpression="#status IN (:pending, :unknown) "
            "AND (attribute_not_exists(pending_bucket) OR pending_bucket = :bucket)",
            ExpressionAttributeNames=STATUS,
            ExpressionAttributeValues={":n": iso(next_check_at), ":bucket": kind.value, **OPEN},
        )

    # --- writes ------------------------------------------------------------------------------

    def create_pending(self, new: NewRecord) -> Record:
        item = new_item(new, now_utc())
        try:
            # A record that surely never reached M-Pesa (NOT_SENT) may be replaced by a new attempt.
            self._table.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR (#status = :failed AND result_code = :not_sent)",
                ExpressionAttributeNames=STATUS,
                ExpressionAttributeValues={":failed": Status.FAILED.value, ":not_sent": NOT_SENT},
            )
        except ClientError as exc:
            if conditional_failed(exc):
                raise RecordExistsError(self.get(new.transaction_id)) from None
            raise
        return record_from_item(item)

    def attach_refs(self, transaction_id: str, refs: Mapping[Ref, str]) -> Record:
        """The first ref is the one a callback may have stored already (it must match); the others follow."""
        primary, value = next(iter(refs.items()))
        names = {f"#r{i}": ref.value for i, ref in enumerate(refs)}
        values: dict[str, Any] = {f":r{i}": v for i, v in enumerate(refs.values())}
        sets = [f"#r{i} = :r{i}" for i in range(len(refs))]
        try:
            item = self._table.update_item(
                Key=record_key(transaction_id),
                UpdateExpression="SET " + ", ".join([*sets, "updated_at = :u"]),
                ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(#r0) OR #r0 = :r0)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, ":u": iso(now_utc())},
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as exc:
            if conditional_failed(exc):
                current = self.get(transaction_id)
                self.flag(transaction_id, Flag.CALLBACK_MISMATCH)
                raise RefMismatchError(primary, current.ref(primary), value) from None
            raise
        return record_from_item(item)

    def settle(self, transaction_id: str, settlement: Settlement) -> SettleResult:
        return self._settler.settle(transaction_id, settlement)

    def mark_unknown(self, kind: Kind, transaction_id: str, reason: str, recheck_at: datetime) -> SettleResult:
        try:
            item = self._table.update_item(
                Key=record_key(transaction_id),
                UpdateExpression="SET #status = :unknown, result_desc = :why, updated_at = :u, "
                "event_published = :f, pending_bucket = :bucket, next_check_at = :next",
                ConditionExpression="attribute_exists(pk) AND #status = :pending",
                ExpressionAttributeNames=STATUS,
                ExpressionAttributeValues={
                    ":unknown": Status.UNKNOWN.value,
                    ":pending": Status.PENDING.value,
                    ":why": reason,
                    ":u": iso(now_utc()),
                    ":f": False,
                    ":bucket": kind.value,
                    # Reconciliation looks at UNKNOWN records again later, through the same index.
                    ":next": iso(recheck_at),
                },
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as exc:
            if not conditional_failed(exc):
                raise
            return SettleResult(self.get(transaction_id), changed=False)
        # The record as this write left it: UNKNOWN is not final, so a settlement may land right after it,
        # and a read-back would make this writer announce that settlement too (the settler announces it).
        return SettleResult(record_from_item(item), changed=True)

    def claim_send(self, transaction_id: str) -> bool:
        return update_if(
            self._table,
            Key=record_key(transaction_id),
            UpdateExpression="SET send_claimed_at = :now",
            ConditionExpression="attribute_exists(pk) AND #status = :pending AND attribute_not_exists(send_claimed_at)",
            ExpressionAttributeNames=STATUS,
            ExpressionAttributeValues={":now": iso(now_utc()), ":pending": Status.PENDING.value},
        )

    def flag(self, transaction_id: str, flag: Flag) -> None:
        flag_record(self._table, transaction_id, flag)

    def mark_event_published(self, transaction_id: str, status: Status) -> None:
        if not status.is_final:  # an UNKNOWN record stays in the index for reconciliation
            update_if(
                self._table,
                Key=record_key(transaction_id),
                UpdateExpression="SET event_published = :t",
                ConditionExpression="#status = :s",
                ExpressionAttributeNames=STATUS,
                ExpressionAttributeValues={":t": True, ":s": status.value},
            )
            return
        # The record leaves the outbox partition only when its late success's event is not owed; otherwise
        # the mark alone, and the last of the two marks takes it out (_leave_outbox).
        if update_if(
            self._table,
            Key=record_key(transaction_id),
            UpdateExpression="SET event_published = :t REMOVE pending_bucket, next_check_at",
            ConditionExpression="#status = :s AND (attribute_not_exists(late_event_published) OR "
            "late_event_published = :t)",
            ExpressionAttributeNames=STATUS,
            ExpressionAttributeValues={":t": True, ":s": status.value},
        ):
            return
        try:
            item = self._table.update_item(
                Key=record_key(transaction_id),
                UpdateExpression="SET event_published = :t",
                ConditionExpression="#status = :s",
                ExpressionAttributeNames=STATUS,
                ExpressionAttributeValues={":t": True, ":s": status.value},
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as exc:
            if conditional_failed(exc):
                return
            raise
        self._leave_outbox(transaction_id, item)

    def mark_late_event_published(self, transaction_id: str) -> None:
        # As mark_event_published: the record stays in the outbox partition while its settled event is owed.
        if update_if(
            self._table,
            Key=record_key(transaction_id),
            UpdateExpression="SET late_event_published = :t REMOVE pending_bucket, next_check_at",
            ConditionExpression="attribute_exists(late_success) AND event_published = :t",
            ExpressionAttributeValues={":t": True},
        ):
            return
        item = self._table.update_item(
            Key=record_key(transaction_id),
            UpdateExpression="SET late_event_published = :t",
            ConditionExpression="attribute_exists(late_success)",
            ExpressionAttributeValues={":t": True},
            ReturnValues="ALL_NEW",
        )["Attributes"]
        self._leave_outbox(transaction_id, item)

    def _leave_outbox(self, transaction_id: str, item: Mapping[str, Any]) -> None:
        """The other mark landed between this one's two writes: nothing is owed now, so leave the outbox
        (conditional: only while both are still published)."""
        record = record_from_item(item)
        if not (record.event_published and record.late_event_published and record.pending_bucket == OUTBOX_BUCKET):
            return
        update_if(
            self._table,
            Key=record_key(transaction_id),
            UpdateExpression="REMOVE pending_bucket, next_check_at",
            ConditionExpression="event_published = :t AND late_event_published = :t AND pending_bucket = :outbox",
            ExpressionAttributeValues={":t": True, ":outbox": OUTBOX_BUCKET},
        )

    def owe_event(self, transaction_id: str, resend_at: datetime) -> bool:
        return update_if(
            self._table,
            Key=record_key(transaction_id),
            UpdateExpression="SET pending_bucket = :outbox, next_check_at = :at",
            ConditionExpression="event_published = :f AND NOT #status IN (:pending, :unknown)",
            ExpressionAttributeNames=STATUS,
            ExpressionAttributeValues={":outbox": OUTBOX_BUCKET, ":at": iso(resend_at), ":f": False, **OPEN},
        )

    def close_not_sent(self, transaction_id: str) -> None:
        update_if(
            self._table,
            Key=record_key(transaction_id),
            UpdateExpression="REMOVE pending_bucket, next_check_at",
            ConditionExpression="#status = :failed AND result_code = :not_sent",
            ExpressionAttributeNames=STATUS,
            ExpressionAttributeValues={":failed": Status.FAILED.value, ":not_sent": NOT_SENT},
        )
