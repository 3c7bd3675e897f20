from decimal import Decimal

import pytest
from pydantic import ValidationError

from mpesa.daraja.errors import (
    DarajaApiError,
    DarajaResponseError,
    DuplicateOriginatorConversationIdError,
    InvalidAccessTokenError,
    StillProcessingError,
    api_error,
)
from mpesa.daraja.models import (
    AccessTokenResponse,
    AsyncRequestResponse,
    B2CRequest,
    C2BRegisterUrlResponse,
    ReversalRequest,
    StkPushRequest,
    StkPushResponse,
    StkQueryResponse,
    TransactionStatusRequest,
    parse_response,
)

URL = "https://pay.example.com/v1/hooks/b2c/result"


@pytest.mark.parametrize("expires_in", [3599, "3599", Decimal(3599)])
def test_token_lifetime_is_read_from_a_number_or_a_string(expires_in):
    token = parse_response("oauth", AccessTokenResponse, 200, {"access_token": "abc", "expires_in": expires_in})
    assert token.expires_in == 3599


def test_token_repr_never_shows_the_token():
    token = AccessTokenResponse(access_token="s3cr3t-token", expires_in=Decimal(3599))
    assert "s3cr3t-token" not in repr(token)


def test_response_missing_a_required_field_is_a_response_error_naming_it():
    with pytest.raises(DarajaResponseError, match="access_token") as caught:
        parse_response("oauth", AccessTokenResponse, 200, {"expires_in": "3599"})
    assert caught.value.http_status == 200


def test_response_that_is_not_an_object_is_a_response_error():
    with pytest.raises(DarajaResponseError, match="JSON object, got list"):
        parse_response("stk_push", StkPushResponse, 200, [])


def test_response_codes_compare_as_text_whether_number_or_string():
    body = {"MerchantRequestID": 29115, "CheckoutRequestID": "ws_CO_1", "ResponseCode": 0}
    answer = parse_response("stk_push", StkPushResponse, 200, body)
    assert answer.response_code == "0"
    assert answer.merchant_request_id == "29115"
    assert answer.accepted


def test_stk_query_pending_as_4999():
    body = {
        "ResponseCode": "0",
        "CheckoutRequestID": "ws_CO_1",
        "ResultCode": "4999",
        "ResultDesc": "The transaction is still under processing",
    }
    answer = parse_response("stk_query", StkQueryResponse, 200, body)
    assert answer.is_pending


def test_stk_query_pending_as_the_being_processed_error():
    error = api_error("stk_query", 500, "500.001.1001", "The transaction is being processed", "ws_CO_1")
    assert isinstance(error, StillProcessingError)
    answer = StkQueryResponse.still_processing("ws_CO_1", error)
    assert answer.is_pending
    assert answer.result_code is None
    assert answer.processing_error_code == "500.001.1001"


def test_stk_query_final_answer_is_not_pending():
    body = {"ResponseCode": "0", "CheckoutRequestID": "ws_CO_1", "ResultCode": 1032, "ResultDesc": "Cancelled"}
    answer = parse_response("stk_query", StkQueryResponse, 200, body)
    assert not answer.is_pending
    assert answer.result_code == "1032"


def test_c2b_register_reads_safaricoms_misspelt_originator_field():
    body = {
        "OriginatorCoversationID": "6e86-45dd-91ac-fd5d4178ab523",
        "ResponseCode": "0",
        "ResponseDescription": "success",
    }
    answer = parse_response("c2b_register_urls", C2BRegisterUrlResponse, 200, body)
    assert answer.originator_conversation_id == "6e86-45dd-91ac-fd5d4178ab523"


def test_async_request_answer_needs_a_conversation_id():
    with pytest.raises(DarajaResponseError, match="ConversationID"):
        parse_response("account_balance", AsyncRequestResponse, 200, {"ResponseCode": "0"})


def test_requests_are_sent_with_safaricoms_spelling():
    b2c = B2CRequest.model_validate(
        {
            "originator_conversation_id": "ocid-1",
            "initiator_name": "testapi",
            "security_credential": "cred",
            "command_id": "BusinessPayment",
            "amount": 5000,
            "party_a": "600996",
            "party_b": "254708374149",
            "remarks": "Salary",
            "queue_timeout_url": URL,
            "result_url": URL,
            "occasion": "January",
        }
    ).wire()
    assert b2c["Occassion"] == "January"
    assert b2c["OriginatorConversationID"] == "ocid-1"
    assert b2c["Amount"] == 5000
    reversal = ReversalRequest.model_validate(
        {
            "initiator": "testapi",
            "security_credential": "cred",
            "transaction_id": "NLJ7RT61SV",
            "amount": 10,
            "receiver_party": "174379",
            "result_url": URL,
            "queue_timeout_url": URL,
            "remarks": "Refund",
        }
    ).wire()
    assert reversal["RecieverIdentifierType"] == "11"
    assert reversal["CommandID"] == "TransactionReversal"
    assert "Occasion" not in reversal  # absent optional fields are not sent


def test_secrets_do_not_appear_in_request_reprs():
    request = StkPushRequest.model_validate(
        {
            "business_short_code": "174379",
            "password": "cGFzc3dvcmQ=",
            "timestamp": "20240101120000",
            "transaction_type": "CustomerPayBillOnline",
            "amount": 1,
            "party_a": "254708374149",
            "party_b": "174379",
            "phone_number": "254708374149",
            "call_back_url": URL,
            "account_reference": "ORDER1",
            "transaction_desc": "Payment",
        }
    )
    assert "cGFzc3dvcmQ=" not in repr(request)


def test_stk_push_request_refuses_fractional_amounts_and_long_references():
    base = {
        "business_short_code": "174379",
        "password": "p",
        "timestamp": "20240101120000",
        "transaction_type": "CustomerPayBillOnline",
        "party_a": "254708374149",
        "party_b": "174379",
        "phone_number": "254708374149",
        "call_back_url": URL,
        "transaction_desc": "Payment",
    }
    with pytest.raises(ValidationError, match="amount"):
        StkPushRequest.model_validate({**base, "amount": 10.5, "account_reference": "A"})
    with pytest.raises(ValidationError, match="account_reference"):
        StkPushRequest.model_validate({**base, "amount": 10, "account_reference": "THIRTEEN-CHAR"})


def test_transaction_status_needs_a_receipt_or_an_originator_conversation_id():
    fields = {
        "initiator": "testapi",
        "security_credential": "cred",
        "party_a": "600996",
        "result_url": URL,
        "queue_timeout_url": URL,
        "remarks": "Status",
    }
    with pytest.raises(ValidationError, match="TransactionID or OriginalConversationID"):
        TransactionStatusRequest.model_validate(fields)
    by_ocid = TransactionStatusRequest.model_validate({**fields, "original_conversation_id": "ocid-1"}).wire()
    assert by_ocid["OriginalConversationID"] == "ocid-1"
    assert "TransactionID" not in by_ocid


@pytest.mark.parametrize("code", ["404.001.03", "400.003.01", "401.002.01"])
def test_every_invalid_token_variant_is_an_invalid_access_token_error(code):
    error = api_error("stk_push", 401, code, "Invalid Access Token", "req-1")
    assert isinstance(error, InvalidAccessTokenError)
    assert (error.error_code, error.error_message, error.request_id) == (code, "Invalid Access Token", "req-1")


def test_overloaded_500_001_1001_is_pending_only_when_being_processed():
    merchant = api_error("stk_query", 500, "500.001.1001", "Merchant does not exist", None)
    assert type(merchant) is DarajaApiError
    assert not merchant.is_still_processing
    assert not merchant.is_upstream_failure  # an answer about the request, not an outage


def test_duplicate_originator_conversation_id_is_typed_and_not_an_outage():
    error = api_error("b2c_payment", 500, "500.002.1001", "Duplicate OriginatorConversationID.", None)
    assert isinstance(error, DuplicateOriginatorConversationIdError)
    assert not error.is_upstream_failure


@pytest.mark.parametrize(
    ("status", "code", "message", "upstream"),
    [
        (503, None, "Service Unavailable", True),
        (500, "500.003.02", "Spike arrest violation", True),
        (500, "500.003.1001", "Internal Server Error", True),
        (500, "500.003.1001", "Urls are already registered", False),
        (400, "400.002.02", "Bad Request - Invalid Amount", False),
        (401, "404.001.03", "Invalid Access Token", False),
    ],
)
def test_only_server_side_trouble_counts_as_an_upstream_failure(status, code, message, upstream):
    assert api_error("stk_query", status, code, message, None).is_upstream_failure is upstream
