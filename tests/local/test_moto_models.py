"""moto's record of every model object it made: the local stack keeps it to the live ones."""

from __future__ import annotations

import gc
import json
import urllib.request
import uuid
from collections.abc import Iterator

import boto3
import pytest

from local.aws import MotoServer, configure_moto
from local.moto_models import WeakInstances, weakly_tracked_models


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    configure_moto()
    server = MotoServer("127.0.0.1", 0)
    server.start()
    with weakly_tracked_models():
        yield server.url
    server.stop()


def test_items_replaced_or_copied_by_moto_are_not_kept_but_live_ones_are_listed(endpoint):
    from moto.dynamodb.models.dynamo_type import Item

    dynamodb = boto3.client(
        "dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="l", aws_secret_access_key="l"
    )
    table = f"t-{uuid.uuid4().hex[:12]}"
    dynamodb.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    gc.collect()
    before = len(list(Item.instances_tracked))  # other tests' live items stay in moto's global backends
    for round_ in range(200):  # a put replaces the item; an update makes moto copy it twice
        dynamodb.put_item(TableName=table, Item={"pk": {"S": "one"}, "n": {"N": str(round_)}})
        dynamodb.update_item(
            TableName=table,
            Key={"pk": {"S": "one"}},
            UpdateExpression="SET n = n + :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="ALL_NEW",
        )
    gc.collect()
    assert isinstance(Item.instances_tracked, WeakInstances)
    live = len(list(Item.instances_tracked))
    assert live - before < 10  # one more live item; moto's own list grows by 600 here
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=10) as answer:  # noqa: S310 (loopback)
        dashboard = json.loads(answer.read())
    assert len(dashboard["dynamodb"]["Item"]) == live >= 1  # the dashboard still lists every live item


def test_a_model_that_cannot_be_weakly_referenced_is_simply_not_listed():
    class Slotted:
        __slots__ = ("value",)

    tracked = WeakInstances()
    keep = [object.__new__(type("Plain", (), {})), Slotted()]
    for instance in keep:
        tracked.append(instance)
    assert list(tracked) == keep[:1]
