"""The benchmarks' meter sees every client's calls (default session, own sessions, resources) made inside
an invocation, and only those, with DynamoDB units from the items each write touched."""

import io
import sys

import boto3
import pytest
from moto import mock_aws

from benchmarks.dynamo_units import Index, TableSchema
from benchmarks.meter import CountingStream, Meter

SCHEMA = TableSchema("T", "pk", indexes=(Index("by-ref", "ref"),))


@pytest.fixture
def meter():
    meter = Meter({"T": SCHEMA})
    meter.install()
    with mock_aws():
        boto3.client("dynamodb").create_table(
            TableName="T",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "ref", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-ref",
                    "KeySchema": [{"AttributeName": "ref", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield meter
    meter.uninstall()


def test_calls_of_every_client_inside_an_invocation_are_counted(meter):
    def handler(event, context):
        boto3.client("dynamodb").put_item(TableName="T", Item={"pk": {"S": "a"}, "ref": {"S": "r"}})
        boto3.session.Session().client("dynamodb").get_item(TableName="T", Key={"pk": {"S": "a"}})
        table = boto3.resource("dynamodb").Table("T")
        table.update_item(
            Key={"pk": "a"},
            UpdateExpression="SET #s = :s",
            ExpressionAttributeNames={"#s": "s"},
            ExpressionAttributeValues={":s": "x"},
        )
        table.query(
            IndexName="by-ref",
            KeyConditionExpression="#r = :r",
            ExpressionAttributeNames={"#r": "ref"},
            ExpressionAttributeValues={":r": "r"},
        )
        return "ok"

    boto3.client("dynamodb").get_item(TableName="T", Key={"pk": {"S": "outside"}})  # the harness: not counted
    assert meter.handler("Fn", handler, "api")({}, None) == "ok"

    (invocation,) = meter.take()
    assert [(c.function, c.operation) for c in invocation.calls] == [
        ("Fn", "PutItem"),
        ("Fn", "GetItem"),
        ("Fn", "UpdateItem"),
        ("Fn", "Query"),
    ]
    put, get, update, query = (c.units for c in invocation.calls)
    assert (put.table_wru, put.index_wru) == (1, {"by-ref": 1})  # a new item, in the index
    assert get.rru == 0.5  # eventually consistent
    assert (update.table_wru, update.index_wru) == (1, {"by-ref": 1})  # a projected attribute changed
    assert query.rru == 0.5
    assert meter.errors == []


def test_a_failed_conditional_write_is_charged_without_index_writes(meter):
    client = boto3.client("dynamodb")
    client.put_item(TableName="T", Item={"pk": {"S": "a"}, "ref": {"S": "r"}})

    def handler(event, context):
        with pytest.raises(client.exceptions.ConditionalCheckFailedException):
            client.put_item(
                TableName="T",
                Item={"pk": {"S": "a"}, "ref": {"S": "r2"}},
                ConditionExpression="attribute_not_exists(pk)",
            )

    meter.handler("Fn", handler, "api")({}, None)
    (invocation,) = meter.take()
    (call,) = invocation.calls
    assert call.error == "ConditionalCheckFailedException"
    assert (call.units.table_wru, call.units.index_wru) == (1, {})


def test_filtered_queries_are_charged_for_what_they_evaluated(meter):
    client = boto3.client("dynamodb")
    for n in range(3):
        client.put_item(TableName="T", Item={"pk": {"S": f"p{n}"}, "ref": {"S": "r"}, "pad": {"S": "x" * 2000}})

    def handler(event, context):
        return client.query(
            TableName="T",
            IndexName="by-ref",
            KeyConditionExpression="#r = :r",
            FilterExpression="pk = :none",
            ExpressionAttributeNames={"#r": "ref"},
            ExpressionAttributeValues={":r": {"S": "r"}, ":none": {"S": "nothing"}},
        )

    assert meter.handler("Fn", handler, "api")({}, None)["Count"] == 0
    (invocation,) = meter.take()
    assert invocation.calls[0].units.rru == 1.0  # ~6 KB evaluated: 2 units, eventually consistent


def test_events_are_counted_by_entry(meter):
    boto3.client("events").create_event_bus(Name="bus")

    def handler(event, context):
        entries = [{"Source": "s", "DetailType": "d", "Detail": "{}", "EventBusName": "bus"}] * 3
        boto3.client("events").put_events(Entries=entries)

    meter.handler("Fn", handler, "api")({}, None)
    (invocation,) = meter.take()
    assert [(c.service, c.operation, c.quantity) for c in invocation.calls] == [("events", "PutEvents", 3)]


def test_output_of_an_invocation_is_counted_and_dropped(meter):
    real = io.StringIO()
    stream = CountingStream(meter, real)

    def handler(event, context):
        stream.write("a log line\n")

    meter.handler("Fn", handler, "api")({}, None)
    stream.write("the report\n")  # outside an invocation, on the main thread: passes through
    (invocation,) = meter.take()
    assert (invocation.log_bytes, invocation.log_lines) == (11, 1)
    assert real.getvalue() == "the report\n"
    assert sys.stdout is not stream
