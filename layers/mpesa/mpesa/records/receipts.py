"""Receipt claims: one M-Pesa receipt pays for one record only.

Every write that stores a receipt also claims `receipt#<receipt>` for its record, in the same
transaction: the claim succeeds if nobody holds it, or if this record already does. A receipt held by
another record (an STK payment also delivered as a C2B confirmation, a replayed callback) refuses the
whole write, so the money is never counted twice.

A claim written by a flow whose records may share a receipt with another flow's (C2B: Daraja also
sends an STK payment to a paybill as a C2B confirmation) carries `holder_kind`. A record refused by
such a claim is not a replay: it is the same payment seen by the other flow. It is written without
the claim and linked to the holder (`linked_transaction_id` on both records and on the claim), once:
the holder counts the money, the linked record says it does not (docs/decisions.md, "STK and C2B").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from mpesa.clock import iso, now_utc
from mpesa.records.dynamo import CONDITION_FAILED, NO_REASON, conditional_failed
from mpesa.records.model import Flag

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

RECORD_TYPE = "receipt_claim"


def claim_key(receipt: str) -> dict[str, str]:
    return {"pk": f"receipt#{receipt}"}


@dataclass(frozen=True)
class Claim:
    receipt: str
    transaction_id: str  # the record that counts the money
    holder_kind: str | None  # set by flows whose records may be linked (c2b); None on STK claims
    linked_transaction_id: str | None  # the other flow's record of the same payment, once linked


def claim_item(receipt: str, transaction_id: str, holder_kind: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        **claim_key(receipt),
        "record_type": RECORD_TYPE,
        "transaction_id": transaction_id,
        "claimed_at": iso(now_utc()),
    }
    if holder_kind is not None:
        item["holder_kind"] = holder_kind
    return item


def claim_receipt(table: Table, transaction_id: str, receipt: str) -> bool | Claim:
    """Claim `receipt` for the record: True when this write claimed it, False when the record held it
    already, or the holder's Claim when another record holds it."""
    try:
        table.put_item(Item=claim_item(receipt, transaction_id), ConditionExpression="attribute_not_exists(pk)")
    except ClientError as exc:
        if not conditional_failed(exc):
            raise
        claim = read_claim(table, receipt)
        if claim is None:  # given back meanwhile: try once more
            return claim_receipt(table, transaction_id, receipt)
        return False if claim.transaction_id == transaction_id else claim
    return True


def release_claim(table: Table, receipt: str, transaction_id: str) -> None:
    """Give back a claim this record holds, unless another record is linked to it."""
    try:
        table.delete_item(
            Key=claim_key(receipt),
            ConditionExpression="transaction_id = :id AND attribute_not_exists(linked_transaction_id)",
            ExpressionAttributeValues={":id": transaction_id},
        )
    except ClientError as exc:
        if not conditional_failed(exc):
            raise


def read_claim(table: Table, receipt: str) -> Claim | None:
    item = table.get_item(Key=claim_key(receipt), ConsistentRead=True).get("Item")
    return None if item is None else claim_from_item(item)


def claim_from_item(item: Mapping[str, Any]) -> Claim:
    kind, linked = item.get("holder_kind"), item.get("linked_transaction_id")
    return Claim(
        receipt=str(item["pk"]).removeprefix("receipt#"),
        transaction_id=str(item["transaction_id"]),
        holder_kind=None if kind is None else str(kind),
        linked_transaction_id=None if linked is None else str(linked),
    )


def update_and_claim(table: Table, transaction_id: str, receipt: str, update: dict[str, Any]) -> None:
    """Apply `update` (UpdateItem arguments) and claim `receipt` for the record in one transaction.

    The resource's client takes Python values, as the Table does (boto3's transformation hooks)."""
    update_item: Any = {"TableName": table.name, **update}
    table.meta.client.transact_write_items(
        TransactItems=[
            {"Update": update_item},
            {
                "Put": {
                    "TableName": table.name,
                    "Item": claim_item(receipt, transaction_id),
                    "ConditionExpression": "attribute_not_exists(pk) OR transaction_id = :id",
                    "ExpressionAttributeValues": {":id": transaction_id},
                }
            },
        ]
    )


def update_beside_holder(
    table: Table,
    transaction_id: str,
    claim: Claim,
    update: dict[str, Any],
    *,
    holder_key: dict[str, str],
    holder_flags: frozenset[str] = frozenset(),
) -> None:
    """Apply `update` (UpdateItem arguments) without claiming the receipt, linked with the claim's holder."""
    first: Any = {"Update": {"TableName": table.name, **update}}
    write_beside_holder(table, transaction_id, claim, first, holder_key=holder_key, holder_flags=holder_flags)


def with_link(update: dict[str, Any], linked_to: str, flag: Flag) -> dict[str, Any]:
    """`update` (a record's UpdateItem: `SET ...` then at most `ADD flags :f`) that also names the
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


def write_beside_holder(
    table: Table,
    transaction_id: str,
    claim: Claim,
    write: dict[str, Any],
    *,
    holder_key: dict[str, str],
    holder_flags: frozenset[str] = frozenset(),
) -> None:
    """Apply `write` (a TransactWriteItems entry for the record) without claiming the receipt, and link
    the record with the claim's holder in the same transaction: the claim and the holder record name
    this record. Only one record may link to a claim (`attribute_not_exists(linked_transaction_id)`):
    a second is refused. Cancellation reasons come in this order: [record, claim, holder]."""
    stamp = iso(now_utc())
    holder_update = "SET linked_transaction_id = if_not_exists(linked_transaction_id, :me), updated_at = :u"
    values: dict[str, Any] = {":me": transaction_id, ":u": stamp}
    if holder_flags:
        holder_update += " ADD flags :hf"
        values[":hf"] = set(holder_flags)
    items: Any = [
        write,
        {
            "Update": {
                "TableName": table.name,
                "Key": claim_key(claim.receipt),
                "UpdateExpression": "SET linked_transaction_id = :me, linked_at = :u",
                "ConditionExpression": "transaction_id = :holder AND attribute_not_exists(linked_transaction_id)",
                "ExpressionAttributeValues": {":me": transaction_id, ":holder": claim.transaction_id, ":u": stamp},
            }
        },
        {
            "Update": {
                "TableName": table.name,
                "Key": holder_key,
                "UpdateExpression": holder_update,
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": values,
            }
        },
    ]
    table.meta.client.transact_write_items(TransactItems=items)


def claimed_by_another(reasons: list[str]) -> bool:
    """The record's own condition held, but the receipt belongs to another record."""
    return len(reasons) > 1 and reasons[0] in NO_REASON and reasons[1] == CONDITION_FAILED


def receipt_refused(reasons: list[str]) -> bool:
    """The receipt belongs to another record (whatever became of the record's own condition)."""
    return len(reasons) > 1 and reasons[1] == CONDITION_FAILED
