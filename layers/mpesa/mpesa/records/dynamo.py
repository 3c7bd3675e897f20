"""Reading DynamoDB's answers: which refusals are answers about an item (and an update that may be one),
and plain JSON from its numbers."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

CONDITION_FAILED = "ConditionalCheckFailed"
NO_REASON = ("None", "")


def conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def transaction_cancelled(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "TransactionCanceledException"


def cancellation_codes(exc: ClientError) -> list[str]:
    """Per-item reasons of a cancelled transaction ("None" for an item that was not the cause)."""
    reasons = exc.response.get("CancellationReasons") or []
    if not reasons:
        # botocore puts them in the message for some backends: "[None, ConditionalCheckFailed]"
        message = exc.response.get("Error", {}).get("Message", "")
        if "[" in message:
            inside = message[message.index("[") + 1 : message.rindex("]")]
            return [part.strip() for part in inside.split(",")]
        return []
    return [str(reason.get("Code", "None")) for reason in reasons]


def only_conditions_failed(reasons: list[str]) -> bool:
    """A cancellation that is an answer about the items, not throttling, a conflict or validation."""
    return all(reason in NO_REASON or reason == CONDITION_FAILED for reason in reasons)


def to_jsonable(value: Any) -> Any:
    """DynamoDB gives Decimal for numbers; whole amounts become int, never float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, Mapping):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    return value


def update_if(table: Table, **update: Any) -> bool:
    """An update whose condition may fail; True when it was applied."""
    try:
        table.update_item(**update)
    except ClientError as exc:
        if not conditional_failed(exc):
            raise
        return False
    return True
