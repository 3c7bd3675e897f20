"""The C2B store on DynamoDB: the transactions table, beside every flow's records.

Items (`pk`):
- `txn#<TransID>`: the payment, a record of kind c2b (so the outbox and `RecordStore.get` read it),
  SUCCESS on arrival, in the outbox until announced; `c2b_day` = `c2b#<YYYY-MM-DD>` (UTC day of
  `paid_at`) keys the sparse `by-c2b-day` index (sort key `paid_at`) that the listing reads, and `day`
  (its Nairobi day of `paid_at`) puts it in the `by-day` index the daily reconciliation reads.
- `receipt#<TransID>`: its receipt claim, `holder_kind` c2b (records/receipts.py).
- `expected#<REFERENCE>`: an expected payment, its `payments` map, `paid_total`, `status`, `version`.
- `c2bvalidation#<TransID>`: the latest validation decision and how many were made (TTL `expires_at`).
- `c2bregistration#<shortcode>`: what we last registered with Daraja.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.conditions import Key
from botocore.config import Config
from botocore.exceptions import ClientError

from mpesa.clock import NAIROBI, iso, now_utc
from mpesa.errors import InputError
from mpesa.flows.c2b.model import (
    ExpectedPayment,
    ExpectedPaymentEntry,
    ExpectedPaymentExistsError,
    ExpectedStatus,
    MatchPlan,
    NewC2BPayment,
    NewExpectedPayment,
    Registration,
    ValidationRecord,
)
from mpesa.flows.c2b.ports import ListedPayment, Page, WriteResult, Written
from mpesa.markets import Country, market_for
from mpesa.records.day_index import day_partition
from mpesa.records.dynamo import CONDITION_FAILED, cancellation_codes, only_conditions_failed, transaction_cancelled
from mpesa.records.items import record_from_item, record_key
from mpesa.records.model import Flag, Kind, Record, RecordNotFoundError, SettledBy, Status
from mpesa.records.receipts import claim_item, read_claim, write_beside_holder
from mpesa.records.store import OUTBOX_BUCKET, OUTBOX_GRACE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

INDEX = "by-c2b-day"
VALIDATION_TTL = timedelta(days=400)
# Validation answers within Daraja's ~8 s: a slow DynamoDB call fails fast instead of eating the budget.
CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 3, "mode": "standard"})
_POSITION_PK = re.compile(r"txn#[A-Z0-9]{10}")
_INSTANT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z")


def expected_key(reference: str) -> dict[str, str]:
    return {"pk": f"expected#{reference}"}


RESULT_DESCRIPTIONS = {
    SettledBy.CALLBACK: "confirmed by M-Pesa (C2B confirmation)",
    SettledBy.RECONCILIATION: "listed in M-Pesa's statement; its confirmation never came",
}


def payment_item(
    payment: NewC2BPayment,
    match: MatchPlan | None,
    *,
    now: datetime,
    linked_to: str | None = None,
    flags: tuple[str, ...] = (),
) -> dict[str, Any]:
    market = market_for(Country.KE)
    stamp, paid_at = iso(now), iso(payment.paid_at)
    details = {
        "account_reference": payment.account_reference,
        "short_code": payment.short_code,
        "transaction_type": payment.transaction_type,
        **payment.extra,
        **(match.details() if match is not None else {}),
    }
    item: dict[str, Any] = {
        **record_key(payment.trans_id),
        "record_type": Kind.C2B.record_type,
        "kind": Kind.C2B.value,
        "transaction_id": payment.trans_id,
        "status": Status.SUCCESS.value,
        "country": market.country.value,
        "currency": market.currency,
        "amount": payment.amount,
        "msisdn": payment.msisdn,
        "details": {k: v for k, v in details.items() if v},
        "result_code": "0",
        "result_desc": RESULT_DESCRIPTIONS[payment.settled_by],
        "receipt": payment.trans_id,
        "paid_at": paid_at,
        "created_at": stamp,
        "updated_at": stamp,
        "settled_at": stamp,
        "settled_by": payment.settled_by.value,
        "event_published": False,
        "pending_bucket": OUTBOX_BUCKET,
        "next_check_at": iso(now + OUTBOX_GRACE),
        "c2b_day": f"c2b#{paid_at[:10]}",
        # In the by-day index under the day the money moved, so the reconciliation of that day sees it.
        "day": day_partition(payment.paid_at.astimezone(NAIROBI).date(), payment.trans_id),
    }
    all_flags = {*payment.flags, *flags}
    if all_flags:
        item["flags"] = all_flags
    if linked_to is not None:
        item["linked_transaction_id"] = linked_to
    return item


def expected_from_item(item: Mapping[str, Any]) -> ExpectedPayment:
    payments = item.get("payments") or {}
    # In the order they were paid; within a second (TransTime's precision), in the order they came.
    ordered = sorted(payments.items(), key=lambda kv: (str(kv[1]["paid_at"]), str(kv[1].get("received_at", "")), kv[0]))
    entries = [
        ExpectedPaymentEntry(str(tid), int(p["amount"]), str(p["paid_at"]), bool(p["applied"])) for tid, p in ordered
    ]
    return ExpectedPayment(
        reference=str(item["reference"]),
        amount_min=int(item["amount_min"]),
        amount_max=int(item["amount_max"]),
        expires_at=str(item["expires_at"]),
        description=str(item.get("description", "")),
        created_at=str(item["created_at"]),
        created_by=str(item.get("created_by", "")),
        status=ExpectedStatus(str(item["status"])),
        paid_total=int(item["paid_total"]),
        payments=tuple(entries),
        version=int(item["version"]),
    )


class DynamoC2BStore:
    def __init__(self, table_name: str, *, table: Table | None = None) -> None:
        self._table = table or boto3.resource("dynamodb", config=CLIENT_CONFIG).Table(table_name)

    # --- payments ---------------------------------------------------------------------------

    def add_payment(
        self, payment: NewC2BPayment, match: MatchPlan | None, *, check_expected: bool = True
    ) -> WriteResult:
        now = now_utc()
        item = payment_item(payment, match, now=now)
        writes: list[Any] = [
            self._put_new(item),
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": claim_item(payment.trans_id, payment.trans_id, Kind.C2B.value),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        guard = self._expected_guard(payment, match, now) if check_expected else None
        if guard is not None:
            writes.append(guard)
        try:
            self._table.meta.client.transact_write_items(TransactItems=writes)
        except ClientError as exc:
            reasons = self._reasons(exc)
            if reasons[0] == CONDITION_FAILED:
                return WriteResult(Written.DUPLICATE, self.payment(payment.trans_id))
            if reasons[1] == CONDITION_FAILED:
                return self._add_linked(payment, now)
            if len(reasons) > 2 and reasons[2] == CONDITION_FAILED:
                return WriteResult(Written.STALE, None)
            raise
        return WriteResult(Written.CREATED, record_from_item(item))

    def _expected_guard(self, payment: NewC2BPayment, match: MatchPlan | None, now: datetime) -> Any:
        """The write (or check) that makes the match agree with the expected payment as it was read."""
        table = self._table.name
        if match is None or match.expected is None:
            if not payment.reference:
                return None
            return {  # read as absent: it must still be absent
                "ConditionCheck": {
                    "TableName": table,
                    "Key": expected_key(payment.reference),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        version = match.expected.version
        if match.entry is None:  # read, and left as it is (payment limit): it must not have changed
            return {
                "ConditionCheck": {
                    "TableName": table,
                    "Key": expected_key(match.reference),
                    "ConditionExpression": "version = :v",
                    "ExpressionAttributeValues": {":v": version},
                }
            }
        entry = match.entry
        sets = ["#payments.#tid = :entry", "version = :next", "updated_at = :u"]
        values: dict[str, Any] = {
            ":entry": {
                "amount": entry.amount,
                "paid_at": entry.paid_at,
                "applied": entry.applied,
                "received_at": iso(now),
            },
            ":v": version,
            ":next": version + 1,
            ":u": iso(now),
        }
        names = {"#payments": "payments", "#tid": entry.trans_id}
        if entry.applied and match.new_status is not None:
            sets += ["paid_total = :total", "#status = :status"]
            values.update({":total": match.new_total, ":status": match.new_status.value})
            names["#status"] = "status"
        return {
            "Update": {
                "TableName": table,
                "Key": expected_key(match.reference),
                "UpdateExpression": "SET " + ", ".join(sets),
                "ConditionExpression": "version = :v AND attribute_not_exists(#payments.#tid)",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    def _add_linked(self, payment: NewC2BPayment, now: datetime) -> WriteResult:
        """The receipt is claimed by another flow's record: the same payment, not new money."""
        claim = read_claim(self._table, payment.trans_id)
        if claim is None:  # claims are never deleted; a refusal without one is not an answer
            raise RuntimeError(f"receipt {payment.trans_id} refused but not claimed")
        item = payment_item(
            payment, None, now=now, linked_to=claim.transaction_id, flags=(Flag.COUNTED_BY_LINKED_RECORD.value,)
        )
        try:
            write_beside_holder(
                self._table,
                payment.trans_id,
                claim,
                self._put_new(item),
                holder_key=record_key(claim.transaction_id),
            )
        except ClientError as exc:
            reasons = self._reasons(exc)
            if reasons[0] == CONDITION_FAILED:
                return WriteResult(Written.DUPLICATE, self.payment(payment.trans_id))
            # The claim is linked to a third record already: keep the money, uncounted, for a person.
            item["flags"] = {*item["flags"], Flag.DUPLICATE_RECEIPT.value}
            del item["linked_transaction_id"]
            try:
                self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
            except ClientError as again:
                if self._reasons(again)[0] != CONDITION_FAILED:
                    raise
                return WriteResult(Written.DUPLICATE, self.payment(payment.trans_id))
        return WriteResult(Written.LINKED, record_from_item(item))

    def _put_new(self, item: dict[str, Any]) -> Any:
        return {"Put": {"TableName": self._table.name, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}

    @staticmethod
    def _reasons(exc: ClientError) -> list[str]:
        """Per-item reasons of a refused conditional write, or the error raised again."""
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return [CONDITION_FAILED]
        if not transaction_cancelled(exc):
            raise exc
        reasons = cancellation_codes(exc)
        if not reasons or not only_conditions_failed(reasons):
            raise exc  # throttling, a conflicting transaction, validation: not an answer about the items
        return reasons

    def flag(self, trans_id: str, flag: Flag) -> None:
        self._table.update_item(
            Key=record_key(trans_id),
            UpdateExpression="ADD flags :f SET updated_at = :u",
            ConditionExpression="record_type = :c2b",
            ExpressionAttributeValues={":f": {flag.value}, ":u": iso(now_utc()), ":c2b": Kind.C2B.record_type},
        )

    def payment(self, trans_id: str) -> Record:
        item = self._table.get_item(Key=record_key(trans_id), ConsistentRead=True).get("Item")
        if item is None or item.get("record_type") != Kind.C2B.record_type:
            raise RecordNotFoundError(trans_id)
        return record_from_item(item)

    def payments(self, start: datetime, end: datetime, limit: int, position: Mapping[str, str] | None) -> Page:
        first_day, last_day = start.date(), (end - timedelta(milliseconds=1)).date()
        day: date = last_day
        start_key: Mapping[str, Any] | None = None
        if position is not None:
            day, start_key = _position(position, first_day, last_day)
        found: list[ListedPayment] = []
        while True:
            query: dict[str, Any] = {
                "IndexName": INDEX,
                "KeyConditionExpression": Key("c2b_day").eq(f"c2b#{day.isoformat()}")
                & Key("paid_at").between(iso(start), iso(end - timedelta(milliseconds=1))),
                "ScanIndexForward": False,
                "Limit": limit - len(found),
            }
            if start_key:
                query["ExclusiveStartKey"] = start_key
            response = self._table.query(**query)
            found.extend(_listed(item) for item in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if last is not None and len(found) >= limit:
                return Page(found, {"day": day.isoformat(), **{k: str(v) for k, v in last.items()}})
            if last is not None:
                start_key = last
                continue
            if day <= first_day:
                return Page(found, None)
            day, start_key = day - timedelta(days=1), None
            if len(found) >= limit:
                return Page(found, {"day": day.isoformat()})

    # --- expected payments ------------------------------------------------------------------

    def expected(self, reference: str) -> ExpectedPayment | None:
        item = self._table.get_item(Key=expected_key(reference), ConsistentRead=True).get("Item")
        return None if item is None else expected_from_item(item)

    def add_expected(self, new: NewExpectedPayment, created_by: str) -> ExpectedPayment:
        item: dict[str, Any] = {
            **expected_key(new.reference),
            "record_type": "c2b_expected_payment",
            "reference": new.reference,
            "amount_min": new.amount_min,
            "amount_max": new.amount_max,
            "expires_at": iso(new.expires_at),
            "description": new.description,
            "created_at": iso(now_utc()),
            "created_by": created_by,
            "status": ExpectedStatus.OPEN.value,
            "paid_total": 0,
            "payments": {},
            "version": 0,
        }
        try:
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if self._reasons(exc)[0] != CONDITION_FAILED:
                raise
            existing = self.expected(new.reference)
            assert existing is not None  # expected payments are never deleted
            raise ExpectedPaymentExistsError(existing) from None
        return expected_from_item(item)

    # --- validation decisions and registrations ---------------------------------------------

    def record_validation(self, record: ValidationRecord) -> None:
        expires = int((now_utc() + VALIDATION_TTL).timestamp())
        self._table.update_item(
            Key={"pk": f"c2bvalidation#{record.trans_id}"},
            UpdateExpression="SET record_type = :t, trans_id = :id, short_code = :sc, amount = :a, "
            "account_reference = :ref, accepted = :ok, result_code = :rc, #rule = :rule, reason = :why, "
            "decided_at = :at, first_decided_at = if_not_exists(first_decided_at, :at), expires_at = :exp "
            "ADD decisions :one",
            ExpressionAttributeNames={"#rule": "rule"},
            ExpressionAttributeValues={
                ":t": "c2b_validation",
                ":id": record.trans_id,
                ":sc": record.short_code,
                ":a": record.amount,
                ":ref": record.account_reference,
                ":ok": record.accepted,
                ":rc": record.result_code,
                ":rule": record.rule,
                ":why": record.reason,
                ":at": record.decided_at,
                ":exp": expires,
                ":one": 1,
            },
        )

    def registration(self, short_code: str) -> Registration | None:
        item = self._table.get_item(Key={"pk": f"c2bregistration#{short_code}"}, ConsistentRead=True).get("Item")
        if item is None:
            return None
        return Registration(
            short_code=str(item["short_code"]),
            api_version=str(item["api_version"]),
            response_type=str(item["response_type"]),
            digest=str(item["digest"]),
            registered_at=str(item["registered_at"]),
            originator_conversation_id=str(item.get("originator_conversation_id", "")),
        )

    def save_registration(self, registration: Registration) -> None:
        self._table.put_item(
            Item={
                "pk": f"c2bregistration#{registration.short_code}",
                "record_type": "c2b_registration",
                "short_code": registration.short_code,
                "api_version": registration.api_version,
                "response_type": registration.response_type,
                "digest": registration.digest,
                "registered_at": registration.registered_at,
                "originator_conversation_id": registration.originator_conversation_id,
            }
        )


def _listed(item: Mapping[str, Any]) -> ListedPayment:
    return ListedPayment(
        trans_id=str(item["transaction_id"]),
        amount=int(item["amount"]),
        currency=str(item["currency"]),
        msisdn=str(item.get("msisdn", "")),
        paid_at=str(item["paid_at"]),
        details={str(k): str(v) for k, v in (item.get("details") or {}).items()},
        flags=tuple(sorted(str(f) for f in item.get("flags", ()))),
    )


def _position(position: Mapping[str, str], first: date, last: date) -> tuple[date, dict[str, str] | None]:
    """A page's starting point from a cursor, checked: a forged one is the caller's error, not ours."""
    invalid = InputError("next", "is not a cursor this route gave for these from and to")
    try:
        day = date.fromisoformat(position["day"])
    except (KeyError, ValueError):
        raise invalid from None
    if not first <= day <= last:
        raise invalid
    keys = set(position) - {"day"}
    if not keys:
        return day, None
    if keys != {"pk", "c2b_day", "paid_at"}:
        raise invalid
    if (
        not _POSITION_PK.fullmatch(position["pk"])
        or position["c2b_day"] != f"c2b#{day.isoformat()}"
        or not _INSTANT.fullmatch(position["paid_at"])
    ):
        raise invalid
    return day, {"pk": position["pk"], "c2b_day": position["c2b_day"], "paid_at": position["paid_at"]}
