"""The transactions table: payment records and the only transitions allowed between their states.

Every transition is one conditional write. A record leaves PENDING (or UNKNOWN) for a final state at
most once, so duplicate and concurrent callbacks change it at most once and only the writer that won
publishes an event. Final states are immutable; a success that arrives after a non-success final
state is kept beside the record and flagged, never dropped. Callbacks that match no record are stored.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


class TransactionStatus(StrEnum):
    PENDING = "PENDING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMEOUT = "TIMEOUT"
    UNKNOWN = "UNKNOWN"  # we could not learn the outcome in time: reconciliation resolves it

    @property
    def is_final(self) -> bool:
        return self not in {TransactionStatus.PENDING, TransactionStatus.UNKNOWN}


class Flag(StrEnum):
    LATE_SUCCESS = "LATE_SUCCESS"  # M-Pesa confirmed a payment after we recorded another ending
    CALLBACK_MISMATCH = "CALLBACK_MISMATCH"  # a callback disagreed with the record (amount/phone/ID)
    DUPLICATE_RECEIPT = "DUPLICATE_RECEIPT"  # the receipt is already claimed by another record
    OUTCOME_UNKNOWN_AT_INITIATION = "OUTCOME_UNKNOWN_AT_INITIATION"  # Daraja did not answer the push


# Partitions of the sparse by-pending index: records waiting for an outcome, and settled records whose
# event is not yet confirmed published (the outbox). A record leaves the index when nothing is owed.
PENDING_BUCKET = "stk"
NOT_SENT = "NOT_SENT"  # result code of a push that surely never reached M-Pesa
OUTBOX_BUCKET = "outbox"
OUTBOX_GRACE = timedelta(minutes=2)


def now_utc() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Transaction:
    transaction_id: str
    status: TransactionStatus
    country: str
    currency: str
    amount: int
    msisdn: str
    account_reference: str
    transaction_desc: str
    created_at: str
    updated_at: str
    checkout_request_id: str | None = None
    merchant_request_id: str | None = None
    result_code: str | None = None
    result_desc: str | None = None
    receipt: str | None = None
    paid_at: str | None = None
    settled_at: str | None = None
    settled_by: str | None = None
    flags: tuple[str, ...] = ()
    late_success: Mapping[str, Any] | None = None
    event_published: bool = False
    late_event_published: bool = True

    @classmethod
    def placeholder(cls, transaction_id: str, checkout_request_id: str | None) -> "Transaction":
        """What an answer can say when the record cannot be read back: it exists and is pending."""
        return cls(
            transaction_id=transaction_id,
            status=TransactionStatus.PENDING,
            country="",
            currency="",
            amount=0,
            msisdn="",
            account_reference="",
            transaction_desc="",
            created_at="",
            updated_at="",
            checkout_request_id=checkout_request_id,
        )

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> "Transaction":
        return cls(
            transaction_id=str(item["transaction_id"]),
            status=TransactionStatus(str(item["status"])),
            country=str(item["country"]),
            currency=str(item["currency"]),
            amount=int(item["amount"]),
            msisdn=str(item["msisdn"]),
            account_reference=str(item["account_reference"]),
            transaction_desc=str(item["transaction_desc"]),
            created_at=str(item["created_at"]),
            updated_at=str(item["updated_at"]),
            checkout_request_id=_opt(item, "checkout_request_id"),
            merchant_request_id=_opt(item, "merchant_request_id"),
            result_code=_opt(item, "result_code"),
            result_desc=_opt(item, "result_desc"),
            receipt=_opt(item, "receipt"),
            paid_at=_opt(item, "paid_at"),
            settled_at=_opt(item, "settled_at"),
            settled_by=_opt(item, "settled_by"),
            flags=tuple(sorted(str(f) for f in item.get("flags", ()))),
            late_success=item.get("late_success"),
            event_published=bool(item.get("event_published", False)),
            late_event_published=bool(item.get("late_event_published", True)),
        )


def _opt(item: Mapping[str, Any], key: str) -> str | None:
    value = item.get(key)
    return None if value is None else str(value)


@dataclass(frozen=True)
class Settlement:
    """A final answer about a payment, from a callback, a query or reconciliation."""

    status: TransactionStatus
    result_code: str
    result_desc: str
    source: str  # "callback" | "query" | "reconciliation"
    checkout_request_id: str | None = None
    receipt: str | None = None
    paid_at: datetime | None = None


@dataclass(frozen=True)
class SettleResult:
    transaction: Transaction
    changed: bool  # True only for the one writer that moved the record to a final state
    late_success: bool = False  # a success arrived after another final state: stored and flagged
    receipt_filled: bool = False  # a receipt arrived for a success that had none (query-settled)


class TransactionNotFoundError(LookupError):
    pass


class TransactionExistsError(Exception):
    """A record with this transaction id exists already (a replayed request)."""

    def __init__(self, transaction: "Transaction") -> None:
        super().__init__(transaction.transaction_id)
        self.transaction = transaction


class TransactionStore:
    def __init__(self, table_name: str, *, table: "Table | None" = None) -> None:
        self._table = table or boto3.resource("dynamodb").Table(table_name)

    # --- reads -------------------------------------------------------------------------------

    def get(self, transaction_id: str) -> Transaction:
        item = self._table.get_item(Key={"pk": _txn_pk(transaction_id)}, ConsistentRead=True).get("Item")
        if item is None:
            raise TransactionNotFoundError(transaction_id)
        return Transaction.from_item(item)

    def find_by_checkout_request_id(self, checkout_request_id: str) -> Transaction | None:
        for item in self._by_checkout(checkout_request_id):
            if item.get("record_type") == "stk_push":
                return Transaction.from_item(item)
        return None

    def due(self, bucket: str, before: datetime, limit: int = 100) -> list[Transaction]:
        """Records in a by-pending partition whose next check is due, oldest first."""
        response = self._table.query(
            IndexName="by-pending",
            KeyConditionExpression=Key("pending_bucket").eq(bucket) & Key("next_check_at").lte(iso(before)),
            Limit=limit,
        )
        return [Transaction.from_item(item) for item in response.get("Items", [])]

    def reschedule(self, transaction_id: str, next_check_at: datetime) -> None:
        """Look at an open record again later. A record that settled meanwhile is left alone."""
        try:
            self._table.update_item(
                Key={"pk": _txn_pk(transaction_id)},
                UpdateExpression="SET next_check_at = :n",
                ConditionExpression="pending_bucket = :bucket AND #status IN (:pending, :unknown)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":n": iso(next_check_at),
                    ":bucket": PENDING_BUCKET,
                    ":pending": TransactionStatus.PENDING.value,
                    ":unknown": TransactionStatus.UNKNOWN.value,
                },
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    # --- writes ------------------------------------------------------------------------------

    def create_pending(
        self,
        *,
        transaction_id: str,
        country: str,
        currency: str,
        amount: int,
        msisdn: str,
        account_reference: str,
        transaction_desc: str,
        next_check_at: datetime,
    ) -> Transaction:
        stamp = iso(now_utc())
        item: dict[str, Any] = {
            "pk": _txn_pk(transaction_id),
            "record_type": "stk_push",
            "transaction_id": transaction_id,
            "status": TransactionStatus.PENDING.value,
            "country": country,
            "currency": currency,
            "amount": amount,
            "msisdn": msisdn,
            "account_reference": account_reference,
            "transaction_desc": transaction_desc,
            "created_at": stamp,
            "updated_at": stamp,
            "pending_bucket": PENDING_BUCKET,
            "next_check_at": iso(next_check_at),
            "event_published": False,
        }
        try:
            # A record that surely never reached M-Pesa (NOT_SENT) may be replaced by a new attempt.
            self._table.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR (#status = :failed AND result_code = :not_sent)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":failed": TransactionStatus.FAILED.value, ":not_sent": NOT_SENT},
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                raise TransactionExistsError(self.get(transaction_id)) from None
            raise
        return Transaction.from_item(item)

    def attach_checkout(self, transaction_id: str, checkout_request_id: str, merchant_request_id: str) -> Transaction:
        """Store Daraja's IDs. A callback may have settled the record (and set the ID) already."""
        try:
            item = self._table.update_item(
                Key={"pk": _txn_pk(transaction_id)},
                UpdateExpression="SET checkout_request_id = :c, merchant_request_id = :m, updated_at = :u",
                ConditionExpression="attribute_exists(pk) AND "
                "(attribute_not_exists(checkout_request_id) OR checkout_request_id = :c)",
                ExpressionAttributeValues={
                    ":c": checkout_request_id,
                    ":m": merchant_request_id,
                    ":u": iso(now_utc()),
                },
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as exc:
            if _conditional_failed(exc):
                current = self.get(transaction_id)
                self.flag(transaction_id, Flag.CALLBACK_MISMATCH)
                raise CheckoutMismatchError(current.checkout_request_id, checkout_request_id) from None
            raise
        return Transaction.from_item(item)

    def settle(self, transaction_id: str, settlement: Settlement) -> SettleResult:
        """Move an open record to its final state (once), or explain why nothing changed."""
        return self._settle(transaction_id, settlement, retries_left=1)

    def _settle(self, transaction_id: str, settlement: Settlement, retries_left: int) -> SettleResult:
        values: dict[str, Any] = {
            ":s": settlement.status.value,
            ":rc": settlement.result_code,
            ":rd": settlement.result_desc,
            ":by": settlement.source,
            ":u": iso(now_utc()),
            ":pending": TransactionStatus.PENDING.value,
            ":unknown": TransactionStatus.UNKNOWN.value,
            ":f": False,
        }
        sets = [
            "#status = :s",
            "result_code = :rc",
            "result_desc = :rd",
            "settled_by = :by",
            "updated_at = :u",
            "settled_at = :u",
            "event_published = :f",
            "pending_bucket = :outbox",
            "next_check_at = :resend_at",
        ]
        values[":outbox"] = OUTBOX_BUCKET
        values[":resend_at"] = iso(now_utc() + OUTBOX_GRACE)
        condition = "attribute_exists(pk) AND #status IN (:pending, :unknown)"
        if settlement.checkout_request_id:
            values[":c"] = settlement.checkout_request_id
            sets.append("checkout_request_id = if_not_exists(checkout_request_id, :c)")
            condition += " AND (attribute_not_exists(checkout_request_id) OR checkout_request_id = :c)"
        if settlement.receipt:
            values[":r"] = settlement.receipt
            sets.append("receipt = :r")
        if settlement.paid_at:
            values[":p"] = iso(settlement.paid_at)
            sets.append("paid_at = :p")
        update: dict[str, Any] = {
            "Key": {"pk": _txn_pk(transaction_id)},
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": values,
        }
        try:
            if settlement.receipt:
                self._transact_with_receipt_claim(transaction_id, settlement.receipt, update)
            else:
                self._table.update_item(**update)
        except ClientError as exc:
            if not _conditional_failed(exc) and not _transaction_cancelled(exc):
                raise
            return self._explain_unchanged(transaction_id, settlement, exc, retries_left)
        return SettleResult(self.get(transaction_id), changed=True)

    def mark_unknown(self, transaction_id: str, reason: str) -> SettleResult:
        """PENDING → UNKNOWN when no answer came in time. UNKNOWN is not final: reconciliation resolves it."""
        try:
            self._table.update_item(
                Key={"pk": _txn_pk(transaction_id)},
                UpdateExpression="SET #status = :unknown, result_desc = :why, updated_at = :u, "
                "event_published = :f, pending_bucket = :bucket, next_check_at = :next",
                ConditionExpression="attribute_exists(pk) AND #status = :pending",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":unknown": TransactionStatus.UNKNOWN.value,
                    ":pending": TransactionStatus.PENDING.value,
                    ":why": reason,
                    ":u": iso(now_utc()),
                    ":f": False,
                    ":bucket": PENDING_BUCKET,
                    # Reconciliation looks at UNKNOWN records again later, through the same index.
                    ":next": iso(now_utc() + timedelta(minutes=15)),
                },
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            return SettleResult(self.get(transaction_id), changed=False)
        return SettleResult(self.get(transaction_id), changed=True)

    def flag(self, transaction_id: str, flag: Flag) -> None:
        self._table.update_item(
            Key={"pk": _txn_pk(transaction_id)},
            UpdateExpression="ADD flags :f SET updated_at = :u",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":f": {flag.value}, ":u": iso(now_utc())},
        )

    def mark_event_published(self, transaction_id: str, status: TransactionStatus) -> None:
        """Outbox bookkeeping: the event for this status went out; the sweep re-sends it otherwise."""
        # A settled record leaves the index; an UNKNOWN one stays in it for reconciliation.
        leave_outbox = " REMOVE pending_bucket, next_check_at" if status.is_final else ""
        try:
            self._table.update_item(
                Key={"pk": _txn_pk(transaction_id)},
                UpdateExpression="SET event_published = :t" + leave_outbox,
                ConditionExpression="#status = :s",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":t": True, ":s": status.value},
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    def close_not_sent(self, transaction_id: str) -> None:
        """A push that never left is a refused API call (answered 503), not a payment outcome: no event
        is owed, and a retry with the same key may still replace the record."""
        try:
            self._table.update_item(
                Key={"pk": _txn_pk(transaction_id)},
                UpdateExpression="REMOVE pending_bucket, next_check_at",
                ConditionExpression="#status = :failed AND result_code = :not_sent",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":failed": TransactionStatus.FAILED.value, ":not_sent": NOT_SENT},
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    def store_unmatched_callback(
        self, *, kind: str, checkout_request_id: str, body: str, source_ip: str, reason: str
    ) -> bool:
        """Keep a callback we could not apply. Returns False when this exact body was stored before."""
        digest = hashlib.sha256(body.encode()).hexdigest()[:24]
        try:
            self._table.put_item(
                Item={
                    "pk": f"unmatched#{kind}#{checkout_request_id}#{digest}",
                    "record_type": f"unmatched_{kind}",
                    "checkout_request_id": checkout_request_id,
                    "body": body,
                    "source_ip": source_ip,
                    "reason": reason,
                    "received_at": iso(now_utc()),
                    "applied": False,
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def unmatched_callbacks(self, checkout_request_id: str, kind: str = "stk") -> list[dict[str, Any]]:
        return [
            dict(item)
            for item in self._by_checkout(checkout_request_id)
            if item.get("record_type") == f"unmatched_{kind}" and not item.get("applied")
        ]

    def mark_unmatched_applied(self, pk: str, transaction_id: str) -> None:
        self._table.update_item(
            Key={"pk": pk},
            UpdateExpression="SET applied = :t, applied_to = :id, applied_at = :u",
            ExpressionAttributeValues={":t": True, ":id": transaction_id, ":u": iso(now_utc())},
        )

    # --- internals ---------------------------------------------------------------------------

    def _by_checkout(self, checkout_request_id: str) -> list[Mapping[str, Any]]:
        response = self._table.query(
            IndexName="by-checkout-request-id",
            KeyConditionExpression=Key("checkout_request_id").eq(checkout_request_id),
        )
        return list(response.get("Items", []))

    def _transact_with_receipt_claim(self, transaction_id: str, receipt: str, update: dict[str, Any]) -> None:
        """Apply `update` and claim the M-Pesa receipt in one transaction: a receipt pays for one record only.

        The resource's client takes Python values, as the Table does (boto3's transformation hooks)."""
        client = self._table.meta.client
        update_item: Any = {"TableName": self._table.name, **update}
        client.transact_write_items(
            TransactItems=[
                {"Update": update_item},
                {
                    "Put": {
                        "TableName": self._table.name,
                        "Item": {
                            "pk": f"receipt#{receipt}",
                            "record_type": "receipt_claim",
                            "transaction_id": transaction_id,
                            "claimed_at": iso(now_utc()),
                        },
                        "ConditionExpression": "attribute_not_exists(pk) OR transaction_id = :id",
                        "ExpressionAttributeValues": {":id": transaction_id},
                    }
                },
            ]
        )

    def _explain_unchanged(
        self, transaction_id: str, settlement: Settlement, exc: ClientError, retries_left: int
    ) -> SettleResult:
        reasons = _cancellation_codes(exc)
        if any(reason not in ("None", "", "ConditionalCheckFailed") for reason in reasons):
            raise exc  # throttling, a conflicting transaction, validation: not an answer about the record
        current = self.get(transaction_id)
        if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed" and reasons[0] in ("None", ""):
            # The record could settle but the receipt belongs to another record: never pay twice.
            self.flag(transaction_id, Flag.DUPLICATE_RECEIPT)
            return SettleResult(self.get(transaction_id), changed=False)
        if (
            settlement.checkout_request_id
            and current.checkout_request_id
            and current.checkout_request_id != settlement.checkout_request_id
        ):
            self.flag(transaction_id, Flag.CALLBACK_MISMATCH)
            return SettleResult(self.get(transaction_id), changed=False)
        if not current.status.is_final:
            # Open again by the time we read it back (a concurrent write moved it): try once more.
            if retries_left > 0:
                return self._settle(transaction_id, settlement, retries_left - 1)
            raise exc
        if settlement.status is not TransactionStatus.SUCCESS:
            return SettleResult(current, changed=False)  # a duplicate or a later, weaker answer
        if current.status is TransactionStatus.SUCCESS:
            if settlement.receipt and not current.receipt:
                return SettleResult(self._fill_receipt(transaction_id, settlement), False, receipt_filled=True)
            return SettleResult(current, changed=False)
        if current.late_success is not None:
            return SettleResult(current, changed=False)  # the late success was recorded already
        return SettleResult(self._record_late_success(transaction_id, settlement), False, late_success=True)

    def _fill_receipt(self, transaction_id: str, settlement: Settlement) -> Transaction:
        """A success settled by query has no receipt; the callback that follows brings it."""
        assert settlement.receipt is not None
        values: dict[str, Any] = {":r": settlement.receipt, ":u": iso(now_utc()), ":s": "SUCCESS"}
        expression = "SET receipt = :r, updated_at = :u"
        if settlement.paid_at:
            values[":p"] = iso(settlement.paid_at)
            expression += ", paid_at = :p"
        update: dict[str, Any] = {
            "Key": {"pk": _txn_pk(transaction_id)},
            "UpdateExpression": expression,
            "ConditionExpression": "#status = :s AND attribute_not_exists(receipt)",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": values,
        }
        self._write_claiming_receipt(transaction_id, settlement.receipt, update, flag_on_duplicate=True)
        return self.get(transaction_id)

    def _record_late_success(self, transaction_id: str, settlement: Settlement) -> Transaction:
        """Keep a success that came after another final state; the outbox owes a late-success event."""
        late = {
            "receipt": settlement.receipt,
            "result_code": settlement.result_code,
            "result_desc": settlement.result_desc,
            "source": settlement.source,
            "paid_at": iso(settlement.paid_at) if settlement.paid_at else None,
            "received_at": iso(now_utc()),
        }
        update: dict[str, Any] = {
            "Key": {"pk": _txn_pk(transaction_id)},
            "UpdateExpression": "SET late_success = :l, late_event_published = :false, updated_at = :u, "
            "pending_bucket = :outbox, next_check_at = :resend_at ADD flags :f",
            "ConditionExpression": "attribute_not_exists(late_success)",
            "ExpressionAttributeValues": {
                ":l": {k: v for k, v in late.items() if v is not None},
                ":false": False,
                ":u": iso(now_utc()),
                ":outbox": OUTBOX_BUCKET,
                ":resend_at": iso(now_utc() + OUTBOX_GRACE),
                ":f": {Flag.LATE_SUCCESS.value},
            },
        }
        if settlement.receipt:
            self._write_claiming_receipt(transaction_id, settlement.receipt, update, flag_on_duplicate=True)
        else:
            try:
                self._table.update_item(**update)
            except ClientError as exc:
                if not _conditional_failed(exc):
                    raise
        return self.get(transaction_id)

    def mark_late_event_published(self, transaction_id: str) -> None:
        self._table.update_item(
            Key={"pk": _txn_pk(transaction_id)},
            UpdateExpression="SET late_event_published = :t REMOVE pending_bucket, next_check_at",
            ConditionExpression="attribute_exists(late_success)",
            ExpressionAttributeValues={":t": True},
        )

    def _write_claiming_receipt(
        self, transaction_id: str, receipt: str, update: dict[str, Any], *, flag_on_duplicate: bool
    ) -> None:
        """Apply `update` and claim the M-Pesa receipt in one transaction: a receipt pays one record only."""
        try:
            self._transact_with_receipt_claim(transaction_id, receipt, update)
        except ClientError as exc:
            if not _transaction_cancelled(exc):
                raise
            reasons = _cancellation_codes(exc)
            if any(reason not in ("None", "", "ConditionalCheckFailed") for reason in reasons):
                raise
            if flag_on_duplicate and len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                self.flag(transaction_id, Flag.DUPLICATE_RECEIPT)


class CheckoutMismatchError(RuntimeError):
    def __init__(self, stored: str | None, received: str) -> None:
        super().__init__("the record already carries another CheckoutRequestID")
        self.stored = stored
        self.received = received


def _txn_pk(transaction_id: str) -> str:
    return f"txn#{transaction_id}"


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _transaction_cancelled(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "TransactionCanceledException"


def _cancellation_codes(exc: ClientError) -> list[str]:
    reasons = exc.response.get("CancellationReasons") or []
    if not reasons:
        # botocore puts them in the message for some backends: "[None, ConditionalCheckFailed]"
        message = exc.response.get("Error", {}).get("Message", "")
        if "[" in message:
            inside = message[message.index("[") + 1 : message.rindex("]")]
            return [part.strip() for part in inside.split(",")]
        return []
    return [str(reason.get("Code", "None")) for reason in reasons]


def to_jsonable(value: Any) -> Any:
    """DynamoDB gives Decimal for numbers; whole amounts become int, never float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, Mapping):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    return value
