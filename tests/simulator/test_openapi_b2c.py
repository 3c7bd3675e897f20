"""OpenAPI B2C: synchronous payouts against the organisation's balance."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.openapi_wire import (
    CANCELS,
    INSUFFICIENT_FUNDS,
    PAYS,
    PERSON,
    SANDBOX_CUSTOMER,
    UNREGISTERED,
    OpenApi,
    assert_ins,
)


@pytest.mark.parametrize("msisdn", [PAYS, PERSON, SANDBOX_CUSTOMER, CANCELS])
def test_a_payout_is_paid_at_once_and_debits_the_balance(openapi: OpenApi, msisdn: str) -> None:
    body = openapi.b2c_body(msisdn, amount="25000")
    answer = assert_ins(openapi.b2c(body), "INS-0", 201)
    assert answer["output_TransactionID"]
    assert answer["output_ThirdPartyConversationID"] == body["input_ThirdPartyConversationID"]
    assert Decimal(openapi.balance()) == Decimal("10000000") - 25000
    record = openapi.transaction(answer["output_TransactionID"])
    assert (record["kind"], record["status"], record["msisdn"], record["response_code"]) == (
        "b2c",
        "Completed",
        msisdn,
        "INS-0",
    )
    assert openapi.prompts(msisdn) == []  # no prompt: the customer receives money


def test_insufficient_balance_is_ins2006_and_moves_nothing(openapi: OpenApi) -> None:
    assert openapi.control("PUT", "/openapi/balance", {"balance": "999"}).json()["balance"] == "999"
    body = openapi.b2c_body(amount="1000")
    answer = assert_ins(openapi.b2c(body), "INS-2006", 422)
    assert answer["output_ResponseDesc"] == "Insufficient balance"
    assert answer["output_TransactionID"] == ""
    assert openapi.balance() == "999"
    assert openapi.status_of(body["input_ThirdPartyConversationID"]) == "Failed"
    assert_ins(openapi.b2c(amount="999"), "INS-0", 201)
    assert openapi.balance() == "0"


def test_the_balance_control_refuses_floats_and_negatives(openapi: OpenApi) -> None:
    for bad in (10.5, "-1", "abc", None, True):
        assert openapi.control("PUT", "/openapi/balance", {"balance": bad}).status_code == 400
    assert openapi.balance() == "10000000"


def test_the_insufficient_funds_test_number(openapi: OpenApi) -> None:
    assert_ins(openapi.b2c(openapi.b2c_body(INSUFFICIENT_FUNDS)), "INS-2006", 422)
    assert openapi.balance() == "10000000"


def test_an_unregistered_or_malformed_number_is_ins2051(openapi: OpenApi) -> None:
    unregistered = openapi.b2c_body(UNREGISTERED)
    assert_ins(openapi.b2c(unregistered), "INS-2051", 400)
    assert openapi.status_of(unregistered["input_ThirdPartyConversationID"]) == "Failed"
    assert_ins(openapi.b2c(openapi.b2c_body("25571234567")), "INS-2051", 400)
    assert len(openapi.transactions(kind="b2c")) == 1  # the malformed one never became a transaction
    assert openapi.balance() == "10000000"


def test_a_duplicate_payout_is_ins10_and_pays_once(openapi: OpenApi) -> None:
    body = openapi.b2c_body(amount="5000")
    assert_ins(openapi.b2c(body), "INS-0", 201)
    assert_ins(openapi.b2c(body), "INS-10", 409)
    assert Decimal(openapi.balance()) == Decimal("9995000")
    caller = body["input_ThirdPartyConversationID"]
    assert openapi.control("GET", "/openapi/call-counts").json()[caller] == {"b2c": 2}
    assert len(openapi.transactions(third_party_conversation_id=caller)) == 1


def test_b2c_wants_payment_items_desc(openapi: OpenApi) -> None:
    body = openapi.b2c_body()
    body["input_PurchasedItemsDesc"] = body.pop("input_PaymentItemsDesc")
    assert_ins(openapi.b2c(body), "INS-20", 400)
    assert_ins(openapi.b2c(openapi.b2c_body(input_Amount="100.50")), "INS-15", 400)
    assert_ins(openapi.b2c(openapi.b2c_body(input_TransactionReference="R" * 21)), "INS-17", 400)
    assert openapi.transactions() == []
