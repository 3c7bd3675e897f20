"""Request bodies are exactly what the OpenAPI documents; answers are read defensively, never trusted blindly."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from mpesa.codes import Outcome
from mpesa.openapi.errors import OpenApiResponseError
from mpesa.openapi.models import (
    B2CRequest,
    C2BSingleStageRequest,
    QueryTransactionStatusRequest,
    ReversalRequest,
    SessionAnswer,
    TransactionAnswer,
    TransactionStatusAnswer,
    parse_answer,
)

C2B = {
    "amount": 1500,
    "country": "TZN",
    "currency": "TZS",
    "customer_msisdn": "255741234567",
    "service_provider_code": "000000",
    "third_party_conversation_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "transaction_reference": "ORDER-17",
    "purchased_items_desc": "Two tickets",
}


def test_c2b_request_is_the_documented_wire_shape():
    assert C2BSingleStageRequest.model_validate(C2B).wire() == {
        "input_Amount": "1500",
        "input_Country": "TZN",
        "input_Currency": "TZS",
        "input_CustomerMSISDN": "255741234567",
        "input_ServiceProviderCode": "000000",
        "input_ThirdPartyConversationID": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "input_TransactionReference": "ORDER-17",
        "input_PurchasedItemsDesc": "Two tickets",
    }


def test_b2c_reversal_and_query_wire_shapes():
    b2c = {k: v for k, v in C2B.items() if k != "purchased_items_desc"} | {"payment_items_desc": "Refund"}
    assert B2CRequest.model_validate(b2c).wire()["input_PaymentItemsDesc"] == "Refund"
    reversal = ReversalRequest.model_validate(
        {
            "reversal_amount": 1500,
            "country": "TZN",
            "service_provider_code": "000000",
            "third_party_conversation_id": "rev-1",
            "transaction_id": "ABC123XYZ0",
        }
    ).wire()
    assert reversal == {
        "input_ReversalAmount": "1500",
        "input_Country": "TZN",
        "input_ServiceProviderCode": "000000",
        "input_ThirdPartyConversationID": "rev-1",
        "input_TransactionID": "ABC123XYZ0",
    }
    query = QueryTransactionStatusRequest.model_validate(
        {
            "query_reference": "abc",
            "service_provider_code": "000000",
            "third_party_conversation_id": "q1",
            "country": "TZN",
        }
    ).wire()
    assert set(query) == {
        "input_QueryReference",
        "input_ServiceProviderCode",
        "input_ThirdPartyConversationID",
        "input_Country",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", 10.0),
        ("amount", Decimal("10")),
        ("amount", "10"),
        ("amount", True),
        ("amount", 0),
        ("third_party_conversation_id", "has space"),
        ("third_party_conversation_id", "x" * 65),
        ("third_party_conversation_id", ""),
        ("transaction_reference", "A" * 21),
        ("transaction_reference", " lead"),
        ("transaction_reference", "semi;colon"),
        ("purchased_items_desc", "   "),
        ("purchased_items_desc", "x" * 257),
        ("purchased_items_desc", "caf\u00e9"),
        ("customer_msisdn", "+255741234567"),
        ("service_provider_code", "12a456"),
        ("country", "tzn"),
    ],
)
def test_requests_refuse_values_outside_the_documented_shapes(field, value):
    with pytest.raises(ValidationError):
        C2BSingleStageRequest.model_validate(C2B | {field: value})


def test_answers_accept_numbers_for_strings_empty_for_absent_and_any_case_of_code():
    answer = parse_answer(
        "b2c_payment",
        TransactionAnswer,
        201,
        {
            "output_ResponseCode": " ins-0 ",
            "output_ResponseDesc": None,
            "output_TransactionID": 1234567890,
            "output_ConversationID": "",
            "output_ThirdPartyConversationID": "abc",
            "output_Unexpected": {"nested": [1, 2]},
        },
    )
    assert (answer.response_code, answer.response_desc, answer.transaction_id) == ("INS-0", "", "1234567890")
    assert answer.conversation_id is None
    assert answer.info.outcome is Outcome.SUCCESS


def test_missing_optional_fields_are_none():
    answer = parse_answer("c2b_single_stage", TransactionAnswer, 401, {"output_ResponseCode": "INS-5"})
    assert (answer.transaction_id, answer.conversation_id, answer.third_party_conversation_id) == (None, None, None)
    status = parse_answer("query", TransactionStatusAnswer, 200, {"output_ResponseCode": "INS-0"})
    assert status.transaction_status is None
    assert status.status_info.outcome is Outcome.UNKNOWN  # a status answer without a status is never final


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "output_ResponseCode"),
        ({"output_ResponseCode": ""}, "output_ResponseCode"),
        ({"output_ResponseCode": True}, "output_ResponseCode"),
        ({"output_ResponseCode": "INS-0", "output_TransactionID": "AB 12; DROP"}, "output_TransactionID"),
        ({"output_ResponseCode": "INS-0", "output_ConversationID": ["x"]}, "output_ConversationID"),
        ({"output_ResponseCode": "INS-0", "output_ResponseDesc": "d" * 600}, "output_ResponseDesc"),
    ],
)
def test_malformed_answers_name_the_field_never_the_value(payload, field):
    with pytest.raises(OpenApiResponseError) as caught:
        parse_answer("b2c_payment", TransactionAnswer, 201, payload)
    assert field in caught.value.problem
    assert "DROP" not in str(caught.value)


def test_a_non_object_answer_is_a_response_error():
    with pytest.raises(OpenApiResponseError, match="expected a JSON object"):
        parse_answer("session", SessionAnswer, 200, ["output_ResponseCode", "INS-0"])


def test_a_session_id_must_look_like_one():
    assert parse_answer("session", SessionAnswer, 200, {"output_ResponseCode": "INS-0", "output_SessionID": "a" * 32})
    with pytest.raises(OpenApiResponseError):
        parse_answer("session", SessionAnswer, 200, {"output_ResponseCode": "INS-0", "output_SessionID": "short"})
    assert "a" * 32 not in repr(
        parse_answer("session", SessionAnswer, 200, {"output_ResponseCode": "INS-0", "output_SessionID": "a" * 32})
    )


# --- properties ----------------------------------------------------------------------------------

JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=80) | st.decimals(allow_nan=False)
JSON_VALUES = st.recursive(
    JSON_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
)
OUTPUT_FIELDS = [
    "output_ResponseCode",
    "output_ResponseDesc",
    "output_TransactionID",
    "output_ConversationID",
    "output_ThirdPartyConversationID",
    "output_ResponseTransactionStatus",
    "output_OriginalTransactionID",
    "output_SessionID",
]
ANSWERS = st.dictionaries(st.sampled_from(OUTPUT_FIELDS) | st.text(max_size=8), JSON_VALUES, max_size=9)
MODELS = st.sampled_from([SessionAnswer, TransactionAnswer, TransactionStatusAnswer])


@given(model=MODELS, payload=JSON_VALUES | ANSWERS)
def test_any_json_either_parses_or_is_a_response_error(model, payload):
    try:
        answer = parse_answer("op", model, 200, payload)
    except OpenApiResponseError:
        return  # any other exception fails the test
    # A parsed answer always has a code, stripped and bounded, with a place in the outcome table...
    assert answer.response_code == answer.response_code.strip() != ""
    assert len(answer.response_code) <= 64
    # ...and a code nobody documented is never final.
    if answer.info.meaning == "unrecognised result code":
        assert not answer.info.final


IDENTIFIERS = st.from_regex(r"\A[A-Za-z0-9._-]{1,40}\Z")


@given(
    code=st.sampled_from(["INS-0", "INS-5", "INS-9", "INS-2006"]),
    transaction_id=IDENTIFIERS,
    conversation_id=IDENTIFIERS,
    caller_id=st.from_regex(r"\A[A-Za-z0-9_-]{1,64}\Z"),
    as_number=st.booleans(),
)
def test_well_formed_answers_round_trip(code, transaction_id, conversation_id, caller_id, as_number):
    wire_id = (
        int(transaction_id) if as_number and transaction_id.isdigit() and transaction_id[0] != "0" else transaction_id
    )
    answer = parse_answer(
        "b2c_payment",
        TransactionAnswer,
        201,
        {
            "output_ResponseCode": code.lower() if as_number else code,
            "output_ResponseDesc": "text",
            "output_TransactionID": wire_id,
            "output_ConversationID": conversation_id,
            "output_ThirdPartyConversationID": caller_id,
        },
    )
    assert (answer.response_code, answer.transaction_id) == (code, transaction_id)
    assert (answer.conversation_id, answer.third_party_conversation_id) == (conversation_id, caller_id)
