"""The inbox: callbacks we could not apply, kept in the transactions table, never dropped.

Item: `pk = unmatched#<kind>#<ref>#<sha256(body)[:24]>` (so a duplicate delivery is stored once),
`record_type = unmatched_<kind>`, the identifier M-Pesa gave (`checkout_request_id` for STK, so the
`by-checkout-request-id` index finds it), the raw body, the source address, why it waits, and whether
it was dealt with later (applied, confirmed or contradicted by the record's outcome).

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
from mpesa.records.model import Kind, Ref
from mpesa.records.store import InboxItem, InboxReason

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

# The attribute (and index) under which each kind's callbacks are looked up.
_REF_FOR_KIND = {Kind.STK: Ref.CHECKOUT_REQUEST_ID, Kind.B2C: Ref.CONVERSATION_ID}
_INDEX_FOR_REF = {Ref.CHECKOUT_REQUEST_ID: "by-checkout-request-id", Ref.CONVERSATION_ID: "by-conversation-id"}


def _ref_attribute(kind: Kind) -> str:
    ref = _REF_FOR_KIND.get(kind)
    return ref.value if ref is not None else "ref"


def _item_to_inbox(item: Mapping[str, Any], kind: Kind) -> InboxItem:
    return InboxItem(
        key=str(item["pk"]),
        kind=kind,
        ref=str(item.get(_ref_attribute(kind), "")),
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
                    _ref_attribute(kind): ref,
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
        ref_name = _REF_FOR_KIND[kind]
        response = self._table.query(
            IndexName=_INDEX_FOR_REF[ref_name], KeyConditionExpression=Key(ref_name.value).eq(ref)
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
