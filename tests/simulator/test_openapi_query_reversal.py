"""OpenAPI status query (GET, query string) and reversal (PUT)."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from tests.support.openapi_wire import PERSON, OpenApi, assert_ins, caller_id


def paid_c2b(openapi: OpenApi, amount: str = "1000") -> dict[str, str]:
    body = openapi.c2b_body(amount=amount)
    answer = assert_ins(openapi.c2b(body), "INS-0", 201)
    return {**answer, "caller": body["input_ThirdPartyConversationID"]}


def test_query_by_transaction_id_caller_id_or_conversation_id(openapi: OpenApi) -> None:
    paid = paid_c2b(openapi)
    for reference in (paid["output_TransactionID"], paid["caller"], paid["output_ConversationID"]):
        query_caller = caller_id()
        answer = assert_ins(openapi.query(reference, input_ThirdPartyConversationID=query_caller), "INS-0", 200)
        assert answer["output_ResponseTransactionStatus"] == "Completed"
        assert answer["output_TransactionID"] == paid["output_TransactionID"]
        assert answer["output_ThirdPartyConversationID"] == query_caller  # the query's own
        assert answer["output_ConversationID"] != paid["output_ConversationID"]


def test_query_parameters_travel_in_the_query_string(openapi: OpenApi) -> None:
    paid = paid_c2b(openapi)
    as_json_body = requests.get(
        openapi.url("queryTransactionStatus/"),
        json={
            "input_QueryReference": paid["output_TransactionID"],
            "input_ServiceProviderCode": "000000",
            "input_ThirdPartyConversationID": caller_id(),
            "input_Country": "TZN",
        },
        headers=openapi.headers(),
        timeout=5,
    )
    assert_ins(as_json_body, "INS-20", 400)


def test_an_unknown_reference_is_ins18(openapi: OpenApi) -> None:
    answer = assert_ins(openapi.query("NOSUCHTX01"), "INS-18", 400)
    assert answer["output_ResponseDesc"] == "Invalid TransactionID Used"
    assert "output_ResponseTransactionStatus" not in answer


def test_a_sandbox_transaction_is_unknown_in_production(openapi: OpenApi) -> None:
    paid = paid_c2b(openapi)
    assert_ins(openapi.query(paid["output_TransactionID"], environment="openapi"), "INS-18", 400)


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"input_QueryReference": ""}, "INS-20"),
        ({"input_ThirdPartyConversationID": ""}, "INS-20"),
        ({"input_ServiceProviderCode": "111111"}, "INS-13"),
        ({"input_Country": "KEN"}, "INS-21"),
        ({"input_QueryReference": "has space"}, "INS-21"),
    ],
)
def test_query_validation(openapi: OpenApi, overrides: dict[str, str], code: str) -> None:
    assert_ins(openapi.query("ANYTHING01", **overrides), code, 400)


def test_a_prompt_still_open_is_pending(openapi: OpenApi) -> None:
    body = openapi.c2b_body(PERSON)
    pending = openapi.start_c2b(body)
    prompt = openapi.wait_prompt(PERSON)
    assert openapi.status_of(body["input_ThirdPartyConversationID"]) == "Pending"
    openapi.control("POST", f"/prompts/{prompt['checkout_request_id']}/cancel")
    assert_ins(pending.result(timeout=10), "INS-5", 401)


def test_reversing_a_c2b_returns_the_money_once(openapi: OpenApi) -> None:
    paid = paid_c2b(openapi, amount="4000")
    assert Decimal(openapi.balance()) == Decimal("10004000")
    body = openapi.reversal_body(paid["output_TransactionID"], amount="4000")
    response = requests.put(openapi.url("reversal/"), json=body, headers=openapi.headers(), timeout=5)
    answer = assert_ins(response, "INS-0", 201)
    assert answer["output_TransactionID"] not in ("", paid["output_TransactionID"])
    assert answer["output_ThirdPartyConversationID"] == body["input_ThirdPartyConversationID"]
    assert openapi.balance() == "10000000"
    original = openapi.transaction(paid["output_TransactionID"])
    assert original["reversed_by"] == answer["output_TransactionID"]
    reversal = openapi.transaction(answer["output_TransactionID"])
    assert (reversal["kind"], reversal["original_transaction_id"]) == ("reversal", paid["output_TransactionID"])
    assert openapi.status_of(answer["output_TransactionID"]) == "Completed"

    again = assert_ins(openapi.reversal(paid["output_TransactionID"], amount="4000"), "INS-10", 409)
    assert again["output_TransactionID"] == ""
    assert openapi.balance() == "10000000"


def test_reversing_a_b2c_credits_the_balance(openapi: OpenApi) -> None:
    payout = assert_ins(openapi.b2c(amount="7000"), "INS-0", 201)
    assert_ins(openapi.reversal(payout["output_TransactionID"], amount=7000), "INS-0", 201)
    assert openapi.balance() == "10000000"


def test_reversal_refusals_move_no_money(openapi: OpenApi) -> None:
    paid = paid_c2b(openapi)
    assert_ins(openapi.reversal("NOSUCHTX01"), "INS-18", 400)
    assert_ins(openapi.reversal(paid["output_TransactionID"], amount="999"), "INS-15", 400)
    assert_ins(openapi.reversal(paid["output_TransactionID"], amount="1.5"), "INS-15", 400)
    assert_ins(openapi.reversal(paid["output_TransactionID"], input_Country="KEN"), "INS-21", 400)
    assert_ins(openapi.reversal(paid["output_TransactionID"], input_ServiceProviderCode="1"), "INS-13", 400)
    assert_ins(openapi.reversal(paid["output_TransactionID"], input_TransactionID=None), "INS-20", 400)
    assert openapi.balance() == "10001000"
    assert openapi.transaction(paid["output_TransactionID"])["reversed_by"] is None
    refused = openapi.transactions(kind="reversal")
    assert [(t["status"], t["result_code"]) for t in refused] == [("Failed", "INS-18"), ("Failed", "INS-15")]


def test_a_reversal_cannot_be_reversed_nor_can_a_cancelled_payment(openapi: OpenApi) -> None:
    paid = paid_c2b(openapi)
    reversal = assert_ins(openapi.reversal(paid["output_TransactionID"]), "INS-0", 201)
    assert_ins(openapi.reversal(reversal["output_TransactionID"]), "INS-18", 400)
    body = openapi.c2b_body(PERSON)
    pending = openapi.start_c2b(body)
    openapi.control("POST", f"/prompts/{openapi.wait_prompt(PERSON)['checkout_request_id']}/cancel")
    pending.result(timeout=10)
    assert_ins(openapi.reversal(body["input_ThirdPartyConversationID"]), "INS-18", 400)


def test_reversing_a_payment_the_balance_no_longer_holds_is_ins2006(openapi: OpenApi) -> None:
    openapi.control("PUT", "/openapi/balance", {"balance": "0"})
    paid = paid_c2b(openapi, amount="3000")
    assert_ins(openapi.b2c(amount="3000"), "INS-0", 201)
    assert_ins(openapi.reversal(paid["output_TransactionID"], amount="3000"), "INS-2006", 422)
    assert openapi.balance() == "0"


def test_a_duplicate_reversal_caller_id_is_ins10(openapi: OpenApi) -> None:
    first, second = paid_c2b(openapi), paid_c2b(openapi)
    caller = caller_id()
    assert_ins(openapi.reversal(first["output_TransactionID"], input_ThirdPartyConversationID=caller), "INS-0", 201)
    duplicate = openapi.reversal(second["output_TransactionID"], input_ThirdPartyConversationID=caller)
    assert_ins(duplicate, "INS-10", 409)
    assert openapi.transaction(second["output_TransactionID"])["reversed_by"] is None


def test_reversal_is_a_put(openapi: OpenApi) -> None:
    paid = paid_c2b(openapi)
    response = requests.post(
        openapi.url("reversal/"),
        json=openapi.reversal_body(paid["output_TransactionID"]),
        headers=openapi.headers(),
        timeout=5,
    )
    assert response.status_code == 405
    assert openapi.transaction(paid["output_TransactionID"])["reversed_by"] is None
