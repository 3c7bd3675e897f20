"""The client's own checks, before anything is sent: the caller's values, named by the caller's names."""

import inspect
from decimal import Decimal

import pytest

from mpesa.clock import Deadline
from mpesa.daraja.breaker import BreakerState
from mpesa.errors import ConfigurationError, InputError
from mpesa.openapi.client import OpenApiClient, new_conversation_id
from tests.support.daraja import STATE_TABLE, make_settings
from tests.support.openapi import build_openapi_client, openapi_settings

NOTHING_SENT = "http://127.0.0.1:9"  # discard port: a request that got this far would fail loudly


@pytest.fixture
def client(public_key):
    return build_openapi_client(openapi_settings(public_key, MPESA_TZ_BASE_URL=NOTHING_SENT))


def c2b(client, **overrides):
    values = {
        "customer_msisdn": "255741234567",
        "amount": 1500,
        "transaction_reference": "ORDER-1",
        "purchased_items_desc": "Two tickets",
        "third_party_conversation_id": new_conversation_id(),
        "deadline": Deadline.within(60),
    }
    values.update(overrides)
    return client.c2b_single_stage(**values)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("customer_msisdn", "254712345678"),  # a Kenyan number on the Tanzanian market
        ("customer_msisdn", "2557412345678"),
        ("customer_msisdn", "0741234567"),
        ("customer_msisdn", 255741234567),
        ("amount", 10.0),
        ("amount", Decimal("10")),
        ("amount", True),
        ("amount", 0),
        ("transaction_reference", "R" * 21),
        ("purchased_items_desc", ""),
        ("third_party_conversation_id", "not allowed"),
    ],
)
def test_bad_values_are_refused_by_the_callers_name_before_sending(client, field, value):
    with pytest.raises(InputError) as caught:
        c2b(client, **{field: value})
    assert caught.value.field == field


def test_the_sandbox_test_number_is_for_the_sandbox_only(public_key):
    production = build_openapi_client(
        openapi_settings(public_key, MPESA_TZ_ENVIRONMENT="production", MPESA_TZ_BASE_URL=NOTHING_SENT)
    )
    with pytest.raises(InputError, match="sandbox"):
        c2b(production, customer_msisdn="000000000001")


def test_the_reversal_amount_is_named_as_the_caller_passed_it(client):
    with pytest.raises(InputError) as caught:
        client.reversal(transaction_id="ABC123", amount=0, third_party_conversation_id="r1")
    assert caught.value.field == "amount"
    with pytest.raises(InputError) as caught:
        client.reversal(transaction_id="ABC 123", amount=10, third_party_conversation_id="r1")
    assert caught.value.field == "transaction_id"


def test_the_c2b_needs_an_explicit_deadline_and_the_others_do_not():
    assert inspect.signature(OpenApiClient.c2b_single_stage).parameters["deadline"].default is inspect.Parameter.empty
    for name in ("b2c_payment", "reversal", "query_transaction_status"):
        assert inspect.signature(getattr(OpenApiClient, name)).parameters["deadline"].default is None
    for name in ("c2b_single_stage", "b2c_payment", "reversal"):  # the caller's ID, stored before sending
        parameter = inspect.signature(getattr(OpenApiClient, name)).parameters["third_party_conversation_id"]
        assert parameter.default is inspect.Parameter.empty


def test_a_bad_public_key_fails_when_the_client_is_built(public_key):
    with pytest.raises(ConfigurationError) as caught:
        OpenApiClient(openapi_settings("bm90IGEga2V5"))
    assert list(caught.value.problems) == ["MPESA_TZ_PUBLIC_KEY"]


def test_from_environment_reads_the_mpesa_settings(public_key, monkeypatch):
    monkeypatch.delenv("STATE_TABLE_NAME", raising=False)
    settings = make_settings(
        MPESA_TZ_API_KEY="k", MPESA_TZ_PUBLIC_KEY=public_key, MPESA_TZ_SERVICE_PROVIDER_CODE="123456"
    )
    client = OpenApiClient.from_environment(settings)
    assert client.settings.service_provider_code == "123456"
    assert client.breaker.name == "openapi-vodacomTZN"
    with pytest.raises(ConfigurationError):
        OpenApiClient.from_environment(make_settings())


def test_conversation_ids_are_fresh_and_valid():
    ids = {new_conversation_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 32 and i.isalnum() for i in ids)


def test_the_breaker_is_the_openapis_own_and_shared_through_the_state_table(public_key, dynamodb):
    settings = openapi_settings(public_key, MPESA_TZ_BASE_URL=NOTHING_SENT)
    container_a = OpenApiClient(settings, state_table_name=STATE_TABLE, dynamodb=dynamodb)
    container_b = OpenApiClient(settings, state_table_name=STATE_TABLE, dynamodb=dynamodb)
    for _ in range(5):
        container_a.breaker.acquire().failure()
    item = dynamodb.get_item(TableName=STATE_TABLE, Key={"pk": {"S": "breaker#openapi-vodacomTZN"}})["Item"]
    assert item["state"]["S"] == "open"
    assert container_b.breaker.state() is BreakerState.OPEN  # the other container sees it
    daraja = dynamodb.get_item(TableName=STATE_TABLE, Key={"pk": {"S": "breaker#daraja"}}).get("Item")
    assert daraja is None  # Daraja's circuit is untouched
