"""The record store on DynamoDB (the transactions table): one item per record, every transition one
conditional write, so duplicate and concurrent writers change a record at most once.

Item: `pk = txn#<transaction_id>`, the record's fields, M-Pesa's identifiers as top-level attributes
(indexed: `by-checkout-request-id`, `by-conversation-id`), and while something is owed the sparse
`by-pending` index keys: `pending_bucket` (the kind, while waiting for an outcome; OUTBOX_BUCKET while an
event is owed) and `next_check_at`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from mpesa.clock import NAIROBI, iso, now_utc
from mpesa.records.day_index import DAY_INDEX, DAY_SHARDS, day_partition, read_day_page
from mpesa.records.dynamo import cancellation_codes, conditional_failed, only_conditions_failed, transaction_cancelled
from mpesa.records.model import (
    NOT_SENT,
    Flag,
    Kind,
    NewRecord,
    Record,
    RecordExistsError,
    RecordNotFoundError,
    Ref,
    RefMismatchError,
    SettledBy,
    Settlement,
    SettleResult,
    Status,
)
from mpesa.records.receipts import (
    Claim,
    claim_item,
    claim_key,
    claimed_by_another,
    read_claim,
    receipt_refused,
    update_and_claim,
    update_beside_holder,
)
from mpesa.records.store import OUTBOX_BUCKET, RecordPage

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

OUTBOX_GRACE = timedelta(minutes=2)
# Records found by an identifier M-Pesa gave: a payout's ConversationID (MpesaService's default Result URL
# carries no record id). A CheckoutRequestID is not indexed: every push names its record in its signed
# callback URL, and an index entry would cost a write per payment.
_INDEX_FOR_REF = {Ref.CONVERSATION_ID: "by-conversation-id"}
_OPEN = {":pending": Status.PENDING.value, ":unknown": Status.UNKNOWN.value}
_STATUS = {"#status": "status"}


class RecordChangingError(RuntimeError):
    """A record kept changing under a settlement (concurrent writers): the caller's retry decides."""


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


def _holds(record: Record, receipt: str) -> bool:
    """Whether the record keeps `receipt`, as its own or as a late success's."""
    return record.receipt == receipt or (record.late_success or {}).get("receipt") == receipt


def _other_receipt(known: object, settlement: Settlement) -> bool:
    return bool(settlement.receipt and known and settlement.receipt != known)


def _opt(item: Mapping[str, Any], key: str) -> str | None:
    value = item.get(key)
    return None if value is None else str(value)


class DynamoRecordStore:
    def __init__(self, table_name: str, *, table: Table | None = None) -> None:
        self._table = table or boto3.resource("dynamodb").Table(table_name)

    # --- reads -------------------------------------------------------------------------------

    def get(self, transaction_id: str) -> Record:
        item = self._table.get_item(Key=record_key(transaction_id), ConsistentRead=True).get("Item")
        if item is None:
            raise RecordNotFoundError(transaction_id)
        return record_from_item(item)

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
        for shard in range(DAY_SHARDS):
            query: dict[str, Any] = {
                "IndexName": DAY_INDEX,
                "KeyConditionExpression": Key("day").eq(f"{day.isoformat()}#{shard}"),
            }
            while True:
                page = self._table.query(**query)
                keys = [{"pk": item["pk"]} for item in page.get("Items", [])]
                yield from self._get_many(keys)
                if "LastEvaluatedKey" not in page:
                    break
                query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def page_of_day(
        self, kind: Kind, day: date, status: Status | None, limit: int, position: Mapping[str, str] | None
    ) -> RecordPage:
        keys, next_position = read_day_page(self._table, kind, day, status, limit, position)
        found = {record_key(r.transaction_id)["pk"]: r for r in self._get_many(keys)}  # in no order
        records = [found[key["pk"]] for key in keys if key["pk"] in found]
        # The index is eventually consistent: a record whose status moved on since is no longer this page's.
        return RecordPage([r for r in records if status is None or r.status is status], next_position)

    def created_between(self, kind: Kind, start: datetime, end: datetime) -> list[Record]:
        """From the day index (each Nairobi day the span touches, every shard), kind filtered in the
        index (it projects `kind`), then the records read in batches."""
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
                    page = self._table.query(**query)
                    keys += [{"pk": item["pk"]} for item in page.get("Items", []) if str(item["created_at"]) < iso(end)]
                    if "LastEvaluatedKey" not in page:
                        break
                    query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(self._get_many(keys), key=lambda r: (r.created_at, r.transaction_id))

    def watermark(self, name: str) -> datetime | None:
        item = self._table.get_item(Key={"pk": f"watermark#{name}"}, ConsistentRead=True).get("Item")
        return None if item is None else datetime.fromisoformat(str(item["at"]))

    def set_watermark(self, name: str, moment: datetime) -> None:
        self._table.put_item(Item={"pk": f"watermark#{name}", "record_type": "watermark", "at": iso(moment)})

    def receipt_holder(self, receipt: str) -> str | None:
        item = self._table.get_item(Key=claim_key(receipt), ConsistentRead=True).get("Item")
        return None if item is None else str(item["transaction_id"])

    def _get_many(self, keys: list[dict[str, Any]]) -> Iterator[Record]:
        """BatchGetItem in chunks of 100, retrying what DynamoDB leaves unprocessed."""
        resource = self._table.meta.client
        for start in range(0, len(keys), 100):
            request: Any = {self._table.name: {"Keys": keys[start : start + 100]}}
            while request:
                answer = resource.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table.name, []):
                    yield record_from_item(item)
                request = answer.get("UnprocessedKeys") or None

    def due(self, bucket: str, before: datetime, limit: int = 100) -> list[Record]:
        response = self._table.query(
            IndexName="by-pending",
            KeyConditionExpression=Key("pending_bucket").eq(bucket) & Key("next_check_at").lte(iso(before)),
            Limit=limit,
        )
        return [record_from_item(item) for item in response.get("Items", [])]

    def reschedule(self, kind: Kind, transaction_id: str, next_check_at: datetime) -> bool:
        return self._conditional(
            Key=record_key(transaction_id),
            UpdateExpression="SET pending_bucket = :bucket, next_check_at = :n",
            ConditionExpression="#status IN (:pending, :unknown) "
            "AND (attribute_not_exists(pending_bucket) OR pending_bucket = :bucket)",
            ExpressionAttributeNames=_STATUS,
            ExpressionAttributeValues={":n": iso(next_check_at), ":bucket": kind.value, **_OPEN},
        )

    # --- writes ------------------------------------------------------------------------------

    def create_pending(self, new: NewRecord) -> Record:
        now = now_utc()
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
        try:
            # A record that surely never reached M-Pesa (NOT_SENT) may be replaced by a new attempt.
            self._table.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR (#status = :failed AND result_code = :not_sent)",
                ExpressionAttributeNames=_STATUS,
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
        return self._settle(transaction_id, settlement, retries_left=1)

    def _settle(self, transaction_id: str, settlement: Settlement, retries_left: int) -> SettleResult:
        """Claim the receipt (one conditional put), then settle the record (one conditional update): no
        transaction on the common path. A claim this write made is given back if the record does not
        end up holding the receipt."""
        receipt = settlement.receipt
        claimed_now = False
        if receipt:
            holder = self._claim_receipt(transaction_id, receipt)
            if isinstance(holder, Claim):
                return self._claimed_elsewhere(transaction_id, settlement, holder, retries_left)
            claimed_now = holder
        result = self._apply(transaction_id, settlement)
        if result is None:
            result = self._unchanged(transaction_id, settlement, retries_left)
            if receipt and claimed_now and not _holds(result.record, receipt):
                self._release_claim(receipt, transaction_id)
        return result

    def _settlement_update(self, transaction_id: str, settlement: Settlement, *, watched: bool) -> dict[str, Any]:
        """The conditional update that settles an open record. `watched`: the record is in the pending
        index (the sweep watches it), and moves to its OUTBOX partition until its event is out; otherwise
        it never enters the index (its event, if lost, is found by the sweep's pass over the day)."""
        now = now_utc()
        values: dict[str, Any] = {
            ":s": settlement.status.value,
            ":rc": settlement.result_code,
            ":rd": settlement.result_desc,
            ":by": settlement.source.value,
            ":u": iso(now),
            ":f": False,
            **_OPEN,
        }
        names = dict(_STATUS)
        sets = [
            "#status = :s",
            "result_code = :rc",
            "result_desc = :rd",
            "settled_by = :by",
            "updated_at = :u",
            "settled_at = :u",
            "event_published = :f",
        ]
        condition = "attribute_exists(pk) AND #status IN (:pending, :unknown)"
        if watched:
            values |= {":outbox": OUTBOX_BUCKET, ":resend_at": iso(now + OUTBOX_GRACE)}
            sets += ["pending_bucket = :outbox", "next_check_at = :resend_at"]
            condition += " AND attribute_exists(pending_bucket)"
        else:
            condition += " AND attribute_not_exists(pending_bucket)"
        for i, (ref, value) in enumerate(settlement.refs.items()):
            names[f"#r{i}"], values[f":r{i}"] = ref.value, value
            sets.append(f"#r{i} = if_not_exists(#r{i}, :r{i})")
            condition += f" AND (attribute_not_exists(#r{i}) OR #r{i} = :r{i})"
        if settlement.receipt:
            values[":r"] = settlement.receipt
            sets.append("receipt = :r")
        if settlement.paid_at:
            values[":p"] = iso(settlement.paid_at)
            sets.append("paid_at = :p")
        for i, (key, value) in enumerate(settlement.details.items()):
            names[f"#d{i}"], values[f":d{i}"] = key, value
            sets.append(f"details.#d{i} = :d{i}")
        return {
            "Key": record_key(transaction_id),
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def _apply(self, transaction_id: str, settlement: Settlement) -> SettleResult | None:
        """Settle the open record: most are outside the pending index (one write); one the sweep watches
        is found out by the first write's condition and settled into the outbox. None: not open (or its
        refs differ)."""
        for watched in (False, True):
            try:
                update = self._settlement_update(transaction_id, settlement, watched=watched)
                item = self._table.update_item(**update, ReturnValues="ALL_NEW")["Attributes"]
            except ClientError as exc:
                if not conditional_failed(exc):
                    raise
                continue
            return SettleResult(record_from_item(item), changed=True)
        return None

    def _claim_receipt(self, transaction_id: str, receipt: str) -> bool | Claim:
        """Claim `receipt` for the record: True when this write claimed it, False when the record held it
        already, or the holder's Claim when another record holds it."""
        try:
            self._table.put_item(
                Item=claim_item(receipt, transaction_id), ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as exc:
            if not conditional_failed(exc):
                raise
            claim = read_claim(self._table, receipt)
            if claim is None:  # given back meanwhile: try once more
                return self._claim_receipt(transaction_id, receipt)
            return False if claim.transaction_id == transaction_id else claim
        return True

    def _release_claim(self, receipt: str, transaction_id: str) -> None:
        try:
            self._table.delete_item(
                Key=claim_key(receipt),
                ConditionExpression="transaction_id = :id AND attribute_not_exists(linked_transaction_id)",
                ExpressionAttributeValues={":id": transaction_id},
            )
        except ClientError as exc:
            if not conditional_failed(exc):
                raise

    def _claimed_elsewhere(
        self, transaction_id: str, settlement: Settlement, claim: Claim, retries_left: int
    ) -> SettleResult:
        current = self.get(transaction_id)
        if any(current.ref(ref) not in (None, value) for ref, value in settlement.refs.items()):
            self.flag(transaction_id, Flag.CALLBACK_MISMATCH)
            return SettleResult(self.get(transaction_id), changed=False)
        if current.status.is_final:
            return self._after_final(current, settlement)
        if claim.holder_kind is not None:
            # The same payment seen by another flow first (a C2B confirmation of this STK push): settle,
            # linked, without counting the money again.
            update = self._settlement_update(transaction_id, settlement, watched=current.pending_bucket is not None)
            return self._settle_beside(transaction_id, settlement, update, claim, retries_left)
        # The record could settle but the receipt belongs to another record: never pay twice.
        self.flag(transaction_id, Flag.DUPLICATE_RECEIPT)
        return SettleResult(self.get(transaction_id), changed=False, contradicts=True)

    def _unchanged(self, transaction_id: str, settlement: Settlement, retries_left: int) -> SettleResult:
        """Why a settlement changed nothing: the record is final (a duplicate, a late success, a receipt
        for a query-settled success, a contradiction), or its refs differ."""
        current = self.get(transaction_id)
        if any(current.ref(ref) not in (None, value) for ref, value in settlement.refs.items()):
            self.flag(transaction_id, Flag.CALLBACK_MISMATCH)
            return SettleResult(self.get(transaction_id), changed=False)
        if not current.status.is_final:
            # Open again by the time we read it back (a concurrent write moved it): try once more.
            if retries_left > 0:
                return self._settle(transaction_id, settlement, retries_left - 1)
            raise RecordChangingError(transaction_id)
        return self._after_final(current, settlement)

    def _settle_beside(
        self,
        transaction_id: str,
        settlement: Settlement,
        update: dict[str, Any],
        claim: Claim,
        retries_left: int,
    ) -> SettleResult:
        linked = with_link(update, claim.transaction_id, Flag.COUNTED_BY_LINKED_RECORD)
        try:
            update_beside_holder(
                self._table, transaction_id, claim, linked, holder_key=record_key(claim.transaction_id)
            )
        except ClientError as exc:
            if not transaction_cancelled(exc):
                raise
            # [record, claim, holder]: the claim linked to another record already (a replay of another
            # push) reads as "claimed by another"; a record no longer open, as for any settlement.
            return self._explain_unchanged(transaction_id, settlement, exc, retries_left)
        return SettleResult(self.get(transaction_id), changed=True)

    def mark_unknown(self, kind: Kind, transaction_id: str, reason: str, recheck_at: datetime) -> SettleResult:
        try:
            item = self._table.update_item(
                Key=record_key(transaction_id),
                UpdateExpression="SET #status = :unknown, result_desc = :why, updated_at = :u, "
                "event_published = :f, pending_bucket = :bucket, next_check_at = :next",
                ConditionExpression="attribute_exists(pk) AND #status = :pending",
                ExpressionAttributeNames=_STATUS,
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
        return self._conditional(
            Key=record_key(transaction_id),
            UpdateExpression="SET send_claimed_at = :now",
            ConditionExpression="attribute_exists(pk) AND #status = :pending AND attribute_not_exists(send_claimed_at)",
            ExpressionAttributeNames=_STATUS,
            ExpressionAttributeValues={":now": iso(now_utc()), ":pending": Status.PENDING.value},
        )

    def flag(self, transaction_id: str, flag: Flag) -> None:
        self._table.update_item(
            Key=record_key(transaction_id),
            UpdateExpression="ADD flags :f SET updated_at = :u",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":f": {flag.value}, ":u": iso(now_utc())},
        )

    def mark_event_published(self, transaction_id: str, status: Status) -> None:
        # A settled record leaves the index; an UNKNOWN one stays in it for reconciliation.
        leave_outbox = " REMOVE pending_bucket, next_check_at" if status.is_final else ""
        self._conditional(
            Key=record_key(transaction_id),
            UpdateExpression="SET event_published = :t" + leave_outbox,
            ConditionExpression="#status = :s",
            ExpressionAttributeNames=_STATUS,
            ExpressionAttributeValues={":t": True, ":s": status.value},
        )

    def mark_late_event_published(self, transaction_id: str) -> None:
        self._table.update_item(
            Key=record_key(transaction_id),
            UpdateExpression="SET late_event_published = :t REMOVE pending_bucket, next_check_at",
            ConditionExpression="attribute_exists(late_success)",
            ExpressionAttributeValues={":t": True},
        )

    def owe_event(self, transaction_id: str, resend_at: datetime) -> bool:
        return self._conditional(
            Key=record_key(transaction_id),
            UpdateExpression="SET pending_bucket = :outbox, next_check_at = :at",
            ConditionExpression="event_published = :f AND NOT #status IN (:pending, :unknown)",
            ExpressionAttributeNames=_STATUS,
            ExpressionAttributeValues={":outbox": OUTBOX_BUCKET, ":at": iso(resend_at), ":f": False, **_OPEN},
        )

    def close_not_sent(self, transaction_id: str) -> None:
        self._conditional(
            Key=record_key(transaction_id),
            UpdateExpression="REMOVE pending_bucket, next_check_at",
            ConditionExpression="#status = :failed AND result_code = :not_sent",
            ExpressionAttributeNames=_STATUS,
            ExpressionAttributeValues={":failed": Status.FAILED.value, ":not_sent": NOT_SENT},
        )

    # --- internals ---------------------------------------------------------------------------

    def _conditional(self, **update: Any) -> bool:
        """An update whose condition may fail; True when it was applied."""
        try:
            self._table.update_item(**update)
        except ClientError as exc:
            if not conditional_failed(exc):
                raise
            return False
        return True

    def _explain_unchanged(
        self, transaction_id: str, settlement: Settlement, exc: ClientError, retries_left: int
    ) -> SettleResult:
        reasons = cancellation_codes(exc)
        if not only_conditions_failed(reasons):
            raise exc  # throttling, a conflicting transaction, validation: not an answer about the record
        current = self.get(transaction_id)
        if claimed_by_another(reasons):
            # The record could settle but the receipt belongs to another record: never pay twice.
            self.flag(transaction_id, Flag.DUPLICATE_RECEIPT)
            return SettleResult(self.get(transaction_id), changed=False, contradicts=True)
        if any(current.ref(ref) not in (None, value) for ref, value in settlement.refs.items()):
            self.flag(transaction_id, Flag.CALLBACK_MISMATCH)
            return SettleResult(self.get(transaction_id), changed=False)
        if not current.status.is_final:
            # Open again by the time we read it back (a concurrent write moved it): try once more.
            if retries_left > 0:
                return self._settle(transaction_id, settlement, retries_left - 1)
            raise exc
        return self._after_final(current, settlement)

    def _after_final(self, current: Record, settlement: Settlement) -> SettleResult:
        """An answer about a record that is final already: a duplicate, a receipt for a query-settled
        success, a late success to keep beside the record, or a contradiction to keep for review."""
        transaction_id = current.transaction_id
        if settlement.status is not Status.SUCCESS:
            same = (settlement.status, settlement.result_code) == (current.status, current.result_code)
            return SettleResult(current, changed=False, contradicts=not same)
        if current.status is Status.SUCCESS:
            if settlement.receipt and not current.receipt:
                filled = self._fill_receipt(transaction_id, settlement)
                return SettleResult(self.get(transaction_id), False, receipt_filled=filled, contradicts=not filled)
            return SettleResult(current, changed=False, contradicts=_other_receipt(current.receipt, settlement))
        if current.late_success is not None:  # the late success was recorded already
            late_receipt = current.late_success.get("receipt")
            return SettleResult(current, changed=False, contradicts=_other_receipt(late_receipt, settlement))
        kept = self._record_late_success(transaction_id, settlement)
        return SettleResult(self.get(transaction_id), False, late_success=kept, contradicts=not kept)

    def _fill_receipt(self, transaction_id: str, settlement: Settlement) -> bool:
        """A success settled by query has no receipt; the callback that follows brings it. False when the
        receipt pays another record (flagged)."""
        assert settlement.receipt is not None
        values: dict[str, Any] = {":r": settlement.receipt, ":u": iso(now_utc()), ":s": Status.SUCCESS.value}
        expression = "SET receipt = :r, updated_at = :u"
        if settlement.paid_at:
            values[":p"] = iso(settlement.paid_at)
            expression += ", paid_at = :p"
        update: dict[str, Any] = {
            "Key": record_key(transaction_id),
            "UpdateExpression": expression,
            "ConditionExpression": "#status = :s AND attribute_not_exists(receipt)",
            "ExpressionAttributeNames": _STATUS,
            "ExpressionAttributeValues": values,
        }
        # Announced as paid already (by query, without a receipt): if another flow counted the receipt
        # meanwhile, both announced the same money (DOUBLE_COUNT, on both records).
        return self._write_claiming_receipt(transaction_id, settlement.receipt, update, Flag.DOUBLE_COUNT)

    def _record_late_success(self, transaction_id: str, settlement: Settlement) -> bool:
        """Keep a success that came after another final state; the outbox owes a late-success event.
        False when its receipt pays another record (flagged, not kept as this record's)."""
        now = now_utc()
        late = {
            "receipt": settlement.receipt,
            "result_code": settlement.result_code,
            "result_desc": settlement.result_desc,
            "source": settlement.source.value,
            "paid_at": iso(settlement.paid_at) if settlement.paid_at else None,
            "received_at": iso(now),
        }
        update: dict[str, Any] = {
            "Key": record_key(transaction_id),
            "UpdateExpression": "SET late_success = :l, late_event_published = :false, updated_at = :u, "
            "pending_bucket = :outbox, next_check_at = :resend_at ADD flags :f",
            "ConditionExpression": "attribute_not_exists(late_success)",
            "ExpressionAttributeValues": {
                ":l": {k: v for k, v in late.items() if v is not None},
                ":false": False,
                ":u": iso(now),
                ":outbox": OUTBOX_BUCKET,
                ":resend_at": iso(now + OUTBOX_GRACE),
                ":f": {Flag.LATE_SUCCESS.value},
            },
        }
        if settlement.receipt:
            return self._write_claiming_receipt(
                transaction_id, settlement.receipt, update, Flag.COUNTED_BY_LINKED_RECORD
            )
        self._conditional(**update)
        return True

    def _write_claiming_receipt(self, transaction_id: str, receipt: str, update: dict[str, Any], linked: Flag) -> bool:
        """Apply `update` and claim the receipt in one transaction. False, with the record flagged, when
        another record holds the receipt; True otherwise (also when a concurrent writer got there first).

        When the holder is another flow's record of the same payment (a C2B confirmation of this STK
        payment), the update is applied without the claim and both records are linked: True. `linked` is
        the flag this record takes (and, for DOUBLE_COUNT, the holder too)."""
        try:
            update_and_claim(self._table, transaction_id, receipt, update)
        except ClientError as exc:
            if not transaction_cancelled(exc):
                raise
            reasons = cancellation_codes(exc)
            if not only_conditions_failed(reasons):
                raise
            if not receipt_refused(reasons):
                return True
            claim = read_claim(self._table, receipt)
            if claim is None or claim.holder_kind is None or claim.transaction_id == transaction_id:
                self.flag(transaction_id, Flag.DUPLICATE_RECEIPT)
                return False
            holder_flags = frozenset({linked.value}) if linked is Flag.DOUBLE_COUNT else frozenset()
            try:
                update_beside_holder(
                    self._table,
                    transaction_id,
                    claim,
                    with_link(update, claim.transaction_id, linked),
                    holder_key=record_key(claim.transaction_id),
                    holder_flags=holder_flags,
                )
            except ClientError as again:
                if not transaction_cancelled(again):
                    raise
                self.flag(transaction_id, Flag.DUPLICATE_RECEIPT)
                return False
        return True


def with_link(update: dict[str, Any], linked_to: str, flag: Flag) -> dict[str, Any]:
    """`update` (an UpdateItem of this module: `SET ...` then at most `ADD flags :f`) that also names the
    linked record and adds `flag`."""
    expression = str(update["UpdateExpression"])
    values = dict(update["ExpressionAttributeValues"])
    values[":linked_to"] = linked_to
    sets, _, adds = expression.partition(" ADD ")
    sets += ", linked_transaction_id = :linked_to"
    if adds:
        if adds.strip() != "flags :f":
            raise ValueError(f"cannot add a link to {expression!r}")
        values[":f"] = {*values[":f"], flag.value}
    else:
        adds = "flags :link_flags"
        values[":link_flags"] = {flag.value}
    return {**update, "UpdateExpression": f"{sets} ADD {adds}", "ExpressionAttributeValues": values}
