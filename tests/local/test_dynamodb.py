"""The local stack's DynamoDB over HTTP: conditional writes are atomic, transactions roll back item by item.

moto's server runs in this process (as in the stack), so the tests can widen moto's race window: a
read of the current item that takes 0.2 s makes two concurrent writers interleave every time.
"""

from __future__ import annotations

import copy
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local.aws import MotoServer, configure_moto
from local.dynamodb import item_level_transactions, partition_queries, serialised_dynamodb


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    configure_moto()
    server = MotoServer("127.0.0.1", 0)
    server.start()
    yield server.url
    server.stop()


@pytest.fixture
def dynamodb(endpoint: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


@pytest.fixture
def table(dynamodb: Any) -> str:
    name = f"t-{uuid.uuid4().hex[:12]}"
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


@pytest.fixture
def slow_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto reads the current item, then decides and writes: make the read slow, so that writers overlap."""
    from moto.dynamodb.models.table import Table

    original = Table.get_item

    def slow(self: Any, *args: Any, **kwargs: Any) -> Any:
        item = original(self, *args, **kwargs)
        time.sleep(0.2)
        return item

    monkeypatch.setattr(Table, "get_item", slow)


def concurrently(*writes: Callable[[], Any]) -> list[str]:
    """Run the writes at the same time; each outcome is "won" or the error code."""
    outcomes: list[str] = [""] * len(writes)
    start = threading.Barrier(len(writes))

    def run(index: int) -> None:
        start.wait()
        try:
            writes[index]()
            outcomes[index] = "won"
        except ClientError as error:
            outcomes[index] = error.response["Error"]["Code"]

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(writes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(outcomes)


def claim(dynamodb: Any, table: str, owner: str) -> Callable[[], Any]:
    return lambda: dynamodb.put_item(
        TableName=table,
        Item={"pk": {"S": "receipt#R1"}, "owner": {"S": owner}},
        ConditionExpression="attribute_not_exists(pk)",
    )


def claim_in_a_transaction(dynamodb: Any, table: str, owner: str) -> Callable[[], Any]:
    return lambda: dynamodb.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": table,
                    "Item": {"pk": {"S": "receipt#R2"}, "owner": {"S": owner}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {"Put": {"TableName": table, "Item": {"pk": {"S": f"txn#{owner}"}, "status": {"S": "SUCCESS"}}}},
        ]
    )


def test_control_without_the_lock_moto_lets_two_conditional_writers_both_win(dynamodb, table, slow_reads):
    # What a soak saw as two final events for one payment; the tests below prove the lock prevents it.
    assert concurrently(claim(dynamodb, table, "a"), claim(dynamodb, table, "b")) == ["won", "won"]


def test_two_concurrent_conditional_puts_over_http_never_both_win(dynamodb, table, slow_reads):
    with serialised_dynamodb():
        outcomes = concurrently(claim(dynamodb, table, "a"), claim(dynamodb, table, "b"))
    assert outcomes == ["ConditionalCheckFailedException", "won"]
    owner = dynamodb.get_item(TableName=table, Key={"pk": {"S": "receipt#R1"}})["Item"]["owner"]["S"]
    assert owner in {"a", "b"}


def test_two_concurrent_transactions_over_http_never_both_claim_a_key(dynamodb, table, slow_reads):
    with serialised_dynamodb(), item_level_transactions():
        outcomes = concurrently(
            claim_in_a_transaction(dynamodb, table, "a"), claim_in_a_transaction(dynamodb, table, "b")
        )
    assert outcomes == ["TransactionCanceledException", "won"]
    winner = dynamodb.get_item(TableName=table, Key={"pk": {"S": "receipt#R2"}})["Item"]["owner"]["S"]
    loser = "b" if winner == "a" else "a"
    assert "Item" not in dynamodb.get_item(TableName=table, Key={"pk": {"S": f"txn#{loser}"}})  # rolled back


def test_a_cancelled_transaction_leaves_every_item_as_it_was(dynamodb, table):
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "existing"}, "n": {"N": "1"}})
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "doomed"}, "n": {"N": "1"}})
    with item_level_transactions(), pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "existing"}},
                        "UpdateExpression": "SET n = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
                {"Put": {"TableName": table, "Item": {"pk": {"S": "new"}}}},
                {"Delete": {"TableName": table, "Key": {"pk": {"S": "doomed"}}}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"pk": {"S": "missing"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    reasons = [reason["Code"] for reason in raised.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]
    assert dynamodb.get_item(TableName=table, Key={"pk": {"S": "existing"}})["Item"]["n"] == {"N": "1"}
    assert "Item" not in dynamodb.get_item(TableName=table, Key={"pk": {"S": "new"}})
    assert dynamodb.get_item(TableName=table, Key={"pk": {"S": "doomed"}})["Item"]["n"] == {"N": "1"}


def test_a_successful_transaction_applies_every_write(dynamodb, table):
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "existing"}, "n": {"N": "1"}})
    with item_level_transactions():
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "existing"}},
                        "UpdateExpression": "SET n = n + :one",
                        "ConditionExpression": "n = :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {"Put": {"TableName": table, "Item": {"pk": {"S": "new"}}}},
            ]
        )
    assert dynamodb.get_item(TableName=table, Key={"pk": {"S": "existing"}})["Item"]["n"] == {"N": "2"}
    assert "Item" in dynamodb.get_item(TableName=table, Key={"pk": {"S": "new"}})


def test_moto_rules_still_apply_to_a_transaction(dynamodb, table):
    twice = {"Put": {"TableName": table, "Item": {"pk": {"S": "same"}}}}
    with item_level_transactions(), pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(TransactItems=[twice, twice])
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "Item" not in dynamodb.get_item(TableName=table, Key={"pk": {"S": "same"}})


def test_a_transaction_copies_only_the_items_it_touches(dynamodb, table, monkeypatch):
    from moto.dynamodb.models.table import Table

    for index in range(50):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": f"item-{index}"}})
    copied: list[type] = []
    original = copy.deepcopy

    def spy(value: Any, *args: Any) -> Any:
        copied.append(type(value))
        return original(value, *args)

    monkeypatch.setattr(copy, "deepcopy", spy)
    write = {"Put": {"TableName": table, "Item": {"pk": {"S": "one-more"}}}}
    dynamodb.transact_write_items(TransactItems=[write])  # moto's own: the control
    assert Table in copied
    copied.clear()
    with item_level_transactions():
        dynamodb.transact_write_items(TransactItems=[{"Put": {**write["Put"], "Item": {"pk": {"S": "two-more"}}}}])
    assert Table not in copied


def all_pages(dynamodb: Any, **query: Any) -> list[list[dict[str, Any]]]:
    pages, start = [], None
    while True:
        answer = dynamodb.query(**query, **({"ExclusiveStartKey": start} if start else {}))
        pages.append(answer["Items"])
        start = answer.get("LastEvaluatedKey")
        if start is None:
            return pages


def test_queries_read_their_partition_and_answer_exactly_as_moto_does(dynamodb):
    table = f"q-{uuid.uuid4().hex[:12]}"
    dynamodb.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "owner", "due")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-owner",
                "KeySchema": [
                    {"AttributeName": "owner", "KeyType": "HASH"},
                    {"AttributeName": "due", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for index in range(40):
        item = {"pk": {"S": f"p{index % 3}"}, "sk": {"S": f"s{index:02d}"}, "n": {"N": str(index)}}
        if index % 4:  # a sparse index: some items are not in it
            item.update({"owner": {"S": f"o{index % 2}"}, "due": {"S": f"d{(index * 7) % 13:02d}"}})
        dynamodb.put_item(TableName=table, Item=item)
    queries = [
        {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p1"}}, "Limit": 4},
        {
            "KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b",
            "ExpressionAttributeValues": {":p": {"S": "p2"}, ":a": {"S": "s05"}, ":b": {"S": "s30"}},
            "ScanIndexForward": False,
            "Limit": 3,
        },
        {
            "IndexName": "by-owner",
            "KeyConditionExpression": "#o = :o AND due > :d",
            "ExpressionAttributeNames": {"#o": "owner"},
            "ExpressionAttributeValues": {":o": {"S": "o1"}, ":d": {"S": "d03"}},
            "Limit": 5,
        },
        {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "nobody"}}},
    ]
    as_moto_does = [all_pages(dynamodb, TableName=table, **query) for query in queries]
    with partition_queries():
        ours = [all_pages(dynamodb, TableName=table, **query) for query in queries]
    assert ours == as_moto_does
    expected = [
        [i for i in range(40) if i % 3 == 1],
        [i for i in range(40) if i % 3 == 2 and 5 <= i <= 30],
        [i for i in range(40) if i % 4 and i % 2 == 1 and (i * 7) % 13 > 3],
    ]
    found = [sorted(int(item["n"]["N"]) for page in pages for item in page) for pages in ours[:3]]
    assert found == expected
    assert ours[3] == [[]]
    scanned = dynamodb.scan(TableName=table)["Items"]  # a scan keeps moto's order
    with partition_queries():
        assert dynamodb.scan(TableName=table)["Items"] == scanned
