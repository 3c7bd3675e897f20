"""The inbox: callbacks we could not apply, kept in the transactions table, never dropped.

Item: `pk = unmatched#<kind>#<ref>#<sha256(body)[:24]>` (so a duplicate delivery is stored once),
`record_type = unmatched_<kind>`, the identifier M-Pesa gave (`ref`: the CheckoutRequestID for STK, the
ConversationID for B2C) and `inbox_ref = <kind>#<ref>`, which the `inbox-by-ref` index finds it by (an
index of inbox items only: records are not in it, so it costs nothing per payment), the raw body, the
source address, why it waits, and whether it was dealt with later (applied, confirmed or contradicted by
the record's outcome).

Bounded: every item expires after `retention` (the table's TTL attribute `expires_at`), and callbacks
that no signed URL authenticates are admitted only within a per-source hourly budget (a conditional
counter item `inbox-rate#<source>#<hour>`), so junk cannot fill the table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from mpesa.clock import iso, now_utc
from mpesa.records.dynamo import conditional_failed
from mpesa.records.model import Kind
from mpesa.records.store import InboxItem, InboxReason

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

INBOX_INDEX = "inbox-by-ref"


def _inbox_ref(kind: Kind, ref: str) -> str:
    return f"{kind.value}#{ref}"


def _item_to_inbox(item: Mapping[str, Any], kind: Kind) -> InboxItem:
    return InboxItem(
        key=str(item["pk"]),
        kind=kind,
        ref=str(item.get("ref", "")),
        body=str(item["body"]),
        source_ip=str(item.get("source_ip", "")),
        reason=InboxReason(str(item["reason"])),
        detail=str(item.get("detail", "")),
        received_at=str(item.get("received_at", "")),
    )


DEFAULT_RETENTION = timedelta(days=90)
DEFAULT_PER_SOURCE_HOURLY = 600


class DynamoInbox:
    def __init__(
        self,
        table_name: str,
        *,
        table: Table | None = None,
        retention: timedelta = DEFAULT_RETENTION,
        per_source_hourly: int = DEFAULT_PER_SOURCE_HOURLY,
    ) -> None:
        self._table = table or boto3.resource("dynamodb").Table(table_name)
        self._retention = retention
        self._per_source_hourly = per_source_hourly

    def keep(self, kind: Kind, ref: str, body: str, source_ip: str, reason: InboxReason, detail: str = "") -> bool:
        digest = hashlib.sha256(body.encode()).hexdigest()[:24]
        now = now_utc()
        try:
            self._table.put_item(
                Item={
                    "pk": f"unmatched#{kind.value}#{ref}#{digest}",
                    "record_type": f"unmatched_{kind.value}",
                    "ref": ref,
                    "inbox_ref": _inbox_ref(kind, ref),
                    "body": body,
                    "source_ip": source_ip,
                    "reason": reason.value,
                    "detail": detail,
                    "received_at": iso(now),
                    "applied": False,
                    "expires_at": int((now + self._retention).timestamp()),
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True

    def waiting(self, kind: Kind, ref: str) -> list[InboxItem]:
        response = self._table.query(
            IndexName=INBOX_INDEX, KeyConditionExpression=Key("inbox_ref").eq(_inbox_ref(kind, ref))
        )
        items = [
            item
            for item in response.get("Items", [])
            if item.get("record_type") == f"unmatched_{kind.value}" and not item.get("applied")
        ]
        items.sort(key=lambda item: str(item.get("received_at", "")))
        return [_item_to_inbox(item, kind) for item in items]

    def mark_applied(self, item: InboxItem, transaction_id: str, outcome: str = "applied") -> None:
        self._table.update_item(
            Key={"pk": item.key},
            UpdateExpression="SET applied = :t, applied_to = :id, applied_as = :as, applied_at = :u",
            ExpressionAttributeValues={":t": True, ":id": transaction_id, ":as": outcome, ":u": iso(now_utc())},
        )

    def admit(self, source_ip: str) -> bool:
        now = now_utc()
        hour = now.strftime("%Y%m%d%H")
        try:
            self._table.update_item(
                Key={"pk": f"inbox-rate#{source_ip or 'unknown'}#{hour}"},
                UpdateExpression="ADD admitted :one "
                "SET record_type = :type, expires_at = if_not_exists(expires_at, :ttl)",
                ConditionExpression="attribute_not_exists(admitted) OR admitted < :limit",
                ExpressionAttributeValues={
                    ":one": 1,
                    ":limit": self._per_source_hourly,
                    ":type": "inbox_rate",
                    ":ttl": int((now + timedelta(hours=2)).timestamp()),
                },
            )
        except ClientError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True
