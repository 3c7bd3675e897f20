"""Account balances on DynamoDB (the transactions table): the latest report per shortcode, and the
balance requests we made (so a Result can be matched with its question).

Items: `balance#<shortcode>` (accounts with their amounts as exact decimal text, `reported_at`,
`received_at`; replaced only by a newer report) and `balance_request#<request_id>` (`conversation_id`,
so the `by-conversation-id` index finds it; `state` requested → reported | failed | timed_out, once).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from mpesa.records.dynamo import conditional_failed

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

REQUEST_TYPE = "balance_request"
REPORT_TYPE = "account_balance"
REQUESTED = "requested"


@dataclass(frozen=True)
class AccountEntry:
    name: str
    currency: str
    current: str
    available: str
    reserved: str
    uncleared: str


@dataclass(frozen=True)
class BalanceReport:
    short_code: str
    accounts: tuple[AccountEntry, ...]
    reported_at: str  # when M-Pesa computed it (BOCompletedTime), else when we received it
    received_at: str
    conversation_id: str


@dataclass(frozen=True)
class BalanceRequest:
    request_id: str
    short_code: str
    requested_at: str
    conversation_id: str | None = None
    state: str = REQUESTED
    detail: str = ""


def _request(item: Mapping[str, Any]) -> BalanceRequest:
    return BalanceRequest(
        request_id=str(item["request_id"]),
        short_code=str(item["short_code"]),
        requested_at=str(item["requested_at"]),
        conversation_id=str(item["conversation_id"]) if item.get("conversation_id") else None,
        state=str(item.get("state", REQUESTED)),
        detail=str(item.get("detail", "")),
    )


def _entry(entry: Mapping[str, Any]) -> AccountEntry:
    return AccountEntry(**{str(k): str(v) for k, v in entry.items()})


class DynamoBalances:
    def __init__(self, table_name: str, *, table: Table | None = None) -> None:
        if table is None:
            import boto3

            table = boto3.resource("dynamodb").Table(table_name)
        self._table = table

    def save_request(self, request: BalanceRequest) -> None:
        item: dict[str, Any] = {
            "pk": f"balance_request#{request.request_id}",
            "record_type": REQUEST_TYPE,
            "request_id": request.request_id,
            "short_code": request.short_code,
            "requested_at": request.requested_at,
            "state": request.state,
        }
        if request.conversation_id:
            item["conversation_id"] = request.conversation_id
        self._table.put_item(Item=item)

    def get_request(self, request_id: str) -> BalanceRequest | None:
        key = {"pk": f"balance_request#{request_id}"}
        item: Mapping[str, Any] | None = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
        return _request(item) if item else None

    def find_request(self, conversation_id: str) -> BalanceRequest | None:
        response = self._table.query(
            IndexName="by-conversation-id", KeyConditionExpression=Key("conversation_id").eq(conversation_id)
        )
        items = [i for i in response.get("Items", []) if i.get("record_type") == REQUEST_TYPE]
        return _request(items[0]) if items else None

    def finish_request(self, request_id: str, state: str, detail: str = "") -> bool:
        try:
            self._table.update_item(
                Key={"pk": f"balance_request#{request_id}"},
                UpdateExpression="SET #state = :state, detail = :detail",
                ConditionExpression="#state = :requested",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":state": state, ":detail": detail, ":requested": REQUESTED},
            )
        except ClientError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True

    def save_report(self, report: BalanceReport) -> bool:
        """Store the report unless a newer one is stored already; True when stored."""
        try:
            self._table.put_item(
                Item={
                    "pk": f"balance#{report.short_code}",
                    "record_type": REPORT_TYPE,
                    "short_code": report.short_code,
                    "accounts": [vars(entry) for entry in report.accounts],
                    "reported_at": report.reported_at,
                    "received_at": report.received_at,
                    "conversation_id": report.conversation_id,
                },
                ConditionExpression="attribute_not_exists(pk) OR reported_at <= :r",
                ExpressionAttributeValues={":r": report.reported_at},
            )
        except ClientError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True

    def report(self, short_code: str) -> BalanceReport | None:
        item: Mapping[str, Any] | None = self._table.get_item(
            Key={"pk": f"balance#{short_code}"}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        return BalanceReport(
            short_code=str(item["short_code"]),
            accounts=tuple(_entry(entry) for entry in item["accounts"]),
            reported_at=str(item["reported_at"]),
            received_at=str(item["received_at"]),
            conversation_id=str(item.get("conversation_id", "")),
        )
