"""Receipt claims: one M-Pesa receipt pays for one record only.

Every write that stores a receipt also claims `receipt#<receipt>` for its record, in the same
transaction: the claim succeeds if nobody holds it, or if this record already does. A receipt held by
another record (an STK payment also delivered as a C2B confirmation, a replayed callback) refuses the
whole write, so the money is never counted twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mpesa.clock import iso, now_utc
from mpesa.records.dynamo import CONDITION_FAILED, NO_REASON

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

RECORD_TYPE = "receipt_claim"


def claim_key(receipt: str) -> dict[str, str]:
    return {"pk": f"receipt#{receipt}"}


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
                    "Item": {
                        **claim_key(receipt),
                        "record_type": RECORD_TYPE,
                        "transaction_id": transaction_id,
                        "claimed_at": iso(now_utc()),
                    },
                    "ConditionExpression": "attribute_not_exists(pk) OR transaction_id = :id",
                    "ExpressionAttributeValues": {":id": transaction_id},
                }
            },
        ]
    )


def claimed_by_another(reasons: list[str]) -> bool:
    """The record's own condition held, but the receipt belongs to another record."""
    return len(reasons) > 1 and reasons[0] in NO_REASON and reasons[1] == CONDITION_FAILED


def receipt_refused(reasons: list[str]) -> bool:
    """The receipt belongs to another record (whatever became of the record's own condition)."""
    return len(reasons) > 1 and reasons[1] == CONDITION_FAILED
