"""Daily payout budgets on DynamoDB (the transactions table): counters and one hold per payout.

Items:
- `budget#<scope>#<key>#<day>`: `used` (whole units) and `limit_amount`, raised with `ADD` under the
  condition that the result stays within the limit; expires a week after its day (TTL `expires_at`).
- `budget_hold#<payout_id>`: what the payout took (amount, day, the counters' keys) and `released`.

Reserving puts the hold and raises every counter in one transaction, so either all of it happens or
none; releasing flips `released` (condition: not yet released) and lowers the counters in one
transaction, so a payout gives its budget back at most once, however often a failure is reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from mpesa.clock import NAIROBI, iso, now_utc
from mpesa.errors import ConflictError
from mpesa.records.dynamo import CONDITION_FAILED, cancellation_codes, only_conditions_failed, transaction_cancelled

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

COUNTER_TYPE = "b2c_budget"
HOLD_TYPE = "b2c_budget_hold"
COUNTER_KEEP = timedelta(days=8)  # counters outlive their day by a week (for review), then expire
HOLD_KEEP = timedelta(days=9)  # holds outlive their counters: a release after that changes nothing


class Scope(StrEnum):
    SHORTCODE = "shortcode"
    RECIPIENT = "recipient"


@dataclass(frozen=True)
class Counter:
    """One daily budget: `key` names the shortcode, or a hash of the recipient's number (no MSISDN in keys)."""

    scope: Scope
    key: str
    limit: int


@dataclass(frozen=True)
class Reservation:
    """What one payout takes from its day's budgets."""

    payout_id: str
    amount: int
    day: str  # YYYY-MM-DD in Kenyan time (EAT): M-Pesa's day
    counters: tuple[Counter, ...]


@dataclass(frozen=True)
class Reserved:
    """What reserving did: `refused_by` names the budget that would be exceeded (nothing was reserved);
    otherwise `new` says whether this call reserved, or found the payout's hold in place."""

    refused_by: Scope | None = None
    new: bool = False


def counter_pk(scope: str, key: str, day: str) -> str:
    return f"budget#{scope}#{key}#{day}"


def hold_pk(payout_id: str) -> str:
    return f"budget_hold#{payout_id}"


def _expiry(day: str, keep: timedelta) -> int:
    midnight = datetime.combine(date.fromisoformat(day), time(), tzinfo=NAIROBI)
    return int((midnight + timedelta(days=1) + keep).timestamp())


class DynamoBudgets:
    def __init__(self, table_name: str, *, table: Table | None = None) -> None:
        if table is None:
            import boto3

            table = boto3.resource("dynamodb").Table(table_name)
        self._table = table

    def reserve(self, reservation: Reservation) -> Reserved:
        for counter in reservation.counters:
            if reservation.amount > counter.limit:
                return Reserved(refused_by=counter.scope)  # no day has room for it
        name = self._table.name
        keys = [counter_pk(c.scope.value, c.key, reservation.day) for c in reservation.counters]
        items: list[Any] = [
            {
                "Put": {
                    "TableName": name,
                    "Item": {
                        "pk": hold_pk(reservation.payout_id),
                        "record_type": HOLD_TYPE,
                        "payout_id": reservation.payout_id,
                        "amount": reservation.amount,
                        "day": reservation.day,
                        "counters": keys,
                        "released": False,
                        "reserved_at": iso(now_utc()),
                        "expires_at": _expiry(reservation.day, HOLD_KEEP),
                    },
                    # A hold given back (the payout never left) may be taken again by a new attempt.
                    "ConditionExpression": "attribute_not_exists(pk) OR released = :true",
                    "ExpressionAttributeValues": {":true": True},
                }
            }
        ]
        for counter, key in zip(reservation.counters, keys, strict=True):
            items.append(
                {
                    "Update": {
                        "TableName": name,
                        "Key": {"pk": key},
                        "UpdateExpression": "SET record_type = :type, #scope = :scope, limit_amount = :limit, "
                        "expires_at = if_not_exists(expires_at, :expires) ADD used :amount",
                        "ConditionExpression": "attribute_not_exists(used) OR used <= :room",
                        "ExpressionAttributeNames": {"#scope": "scope"},
                        "ExpressionAttributeValues": {
                            ":type": COUNTER_TYPE,
                            ":scope": counter.scope.value,
                            ":limit": counter.limit,
                            ":expires": _expiry(reservation.day, COUNTER_KEEP),
                            ":amount": reservation.amount,
                            ":room": counter.limit - reservation.amount,
                        },
                    }
                }
            )
        try:
            self._table.meta.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if not transaction_cancelled(exc):
                raise
            reasons = cancellation_codes(exc)
            if not only_conditions_failed(reasons):
                raise
            if reasons and reasons[0] == CONDITION_FAILED:
                return self._held(reservation)
            for counter, reason in zip(reservation.counters, reasons[1:], strict=False):
                if reason == CONDITION_FAILED:
                    return Reserved(refused_by=counter.scope)
            raise
        return Reserved(new=True)

    def _held(self, reservation: Reservation) -> Reserved:
        hold: Mapping[str, Any] | None = self._table.get_item(
            Key={"pk": hold_pk(reservation.payout_id)}, ConsistentRead=True
        ).get("Item")
        if hold is None or hold.get("released"):
            raise ConflictError("the payout's budget hold changed while it was being reserved; try again")
        if int(hold["amount"]) != reservation.amount:
            raise ConflictError("this request key was used for a payout of another amount")
        return Reserved(new=False)

    def release(self, payout_id: str) -> bool:
        hold: Mapping[str, Any] | None = self._table.get_item(Key={"pk": hold_pk(payout_id)}, ConsistentRead=True).get(
            "Item"
        )
        if hold is None or hold.get("released"):
            return False
        name = self._table.name
        amount = int(hold["amount"])
        items: list[Any] = [
            {
                "Update": {
                    "TableName": name,
                    "Key": {"pk": hold_pk(payout_id)},
                    "UpdateExpression": "SET released = :true, released_at = :now",
                    "ConditionExpression": "released = :false",
                    "ExpressionAttributeValues": {":true": True, ":false": False, ":now": iso(now_utc())},
                }
            }
        ]
        for key in hold.get("counters", []):
            items.append(
                {
                    "Update": {
                        "TableName": name,
                        "Key": {"pk": str(key)},
                        "UpdateExpression": "ADD used :minus",
                        "ConditionExpression": "attribute_exists(used)",
                        "ExpressionAttributeValues": {":minus": -amount},
                    }
                }
            )
        try:
            self._table.meta.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if not transaction_cancelled(exc) or not only_conditions_failed(cancellation_codes(exc)):
                raise
            return False  # released meanwhile by another writer (or a counter expired: nothing to give back)
        return True

    def used(self, scope: Scope, key: str, day: str) -> int:
        """How much of a day's budget is taken (for tests and operators)."""
        key_ = {"pk": counter_pk(scope.value, key, day)}
        item: Mapping[str, Any] | None = self._table.get_item(Key=key_, ConsistentRead=True).get("Item")
        return int(item["used"]) if item else 0
