import json
from datetime import datetime
from decimal import Decimal

import pytest

from mpesa.clock import NAIROBI
from mpesa.daraja.acks import c2b_validation_accept, c2b_validation_reject, callback_ack
from mpesa.daraja.callbacks import (
    load_json,
    parse_async_result,
    parse_c2b_payload,
    parse_queue_timeout,
    parse_stk_callback,
)
from mpesa.errors import CallbackPayloadError, InputError

# The integration guide's success callback, byte for byte as Daraja sends it (1000.00 is a JSON number).
SEED_SUCCESS = """{
  "Body": {
    "stkCallback": {
      "MerchantRequestID": "29115-34620561-1",
      "CheckoutRequestID": "ws_CO_191220191020363925",
      "ResultCode": 0,
      "ResultDesc": "The service request is processed successfully.",
      "CallbackMetadata": {
        "Item": [
          {"Name": "Amount", "Value": 1000.00},
          {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"},
          {"Name": "Balance"},
          {"Name": "TransactionDate", "Value": 20191219102115},
          {"Name": "PhoneNumber", "Value": 254708374149}
        ]
      }
    }
  }
}"""


def stk(result_code, metadata=None, **extra):
    callback = {"MerchantRequestID": "m-1", "CheckoutRequestID": "ws_CO_1", "ResultCode": result_code, **extra}
    if metadata is not None:
        callback["CallbackMetadata"] = metadata
    return json.dumps({"Body": {"stkCallback": callback}})


def test_seed_success_callback_gives_typed_payment_details():
    callback = parse_stk_callback(SEED_SUCCESS)
    assert callback.succeeded
    assert callback.outcome == "success"
    assert callback.checkout_request_id == "ws_CO_191220191020363925"
    assert callback.amount == 1000
    assert isinstance(callback.amount, int)
    assert callback.receipt == "NLJ7RT61SV"
    assert callback.transaction_date == datetime(2019, 12, 19, 10, 21, 15, tzinfo=NAIROBI)
    assert callback.phone == "254708374149"
    assert callback.balance is None  # Balance arrives without a Value


def test_amounts_are_decoded_as_decimal_never_float():
    decoded = load_json(SEED_SUCCESS)
    amount = decoded["Body"]["stkCallback"]["CallbackMetadata"]["Item"][0]["Value"]
    assert amount == Decimal("1000.00")
    assert type(amount) is Decimal


def test_single_item_object_instead_of_a_list_is_accepted():
    metadata = {"Item": {"Name": "Amount", "Value": 1}}
    callback = parse_stk_callback(stk(1032, metadata))
    assert callback.metadata == {"Amount": 1}


def test_failure_callback_has_no_metadata_and_a_guide_outcome():
    callback = parse_stk_callback(stk(1032, ResultDesc="Request cancelled by user"))
    assert not callback.succeeded
    assert callback.outcome == "cancelled"
    assert callback.amount is None
    assert callback.receipt is None


def test_result_code_as_string_is_normalised():
    assert parse_stk_callback(stk("1037")).result_code == "1037"
    assert parse_stk_callback(stk("1037")).outcome == "retry"


def test_already_decoded_dict_with_floats_is_read_through_their_repr():
    callback = parse_stk_callback(json.loads(SEED_SUCCESS))  # 1000.0 float here
    assert callback.amount == 1000


def test_success_without_receipt_is_rejected():
    metadata = {"Item": [{"Name": "Amount", "Value": 1}]}
    with pytest.raises(CallbackPayloadError, match="MpesaReceiptNumber"):
        parse_stk_callback(stk(0, metadata))


def test_fractional_amount_is_rejected_not_rounded():
    body = SEED_SUCCESS.replace("1000.00", "10.50")
    with pytest.raises(CallbackPayloadError, match=r"CallbackMetadata\.Amount.*whole number"):
        parse_stk_callback(body)


def test_bad_transaction_date_is_rejected():
    body = SEED_SUCCESS.replace("20191219102115", '"yesterday"')
    with pytest.raises(CallbackPayloadError, match="TransactionDate"):
        parse_stk_callback(body)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("not json", "body"),
        ("[]", "body"),
        ('{"Body": {}}', "Body.stkCallback"),
        ('{"Body": {"stkCallback": {"ResultCode": 0}}}', "Body.stkCallback.CheckoutRequestID"),
    ],
)
def test_malformed_callbacks_name_what_is_wrong(body, field):
    with pytest.raises(CallbackPayloadError) as caught:
        parse_stk_callback(body)
    assert caught.value.field == field
    assert isinstance(caught.value, InputError)


def test_oversized_body_is_refused_before_parsing():
    with pytest.raises(CallbackPayloadError, match="larger than"):
        parse_stk_callback("x" * 70_000)


B2C_SUCCESS = {
    "Result": {
        "ResultType": 0,
        "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.",
        "OriginatorConversationID": "10571-7910404-1",
        "ConversationID": "AG_20191219_00004e48cf7e3533f581",
        "TransactionID": "NLJ41HAY6Q",
        "ResultParameters": {
            "ResultParameter": [
                {"Key": "TransactionAmount", "Value": 10},
                {"Key": "TransactionReceipt", "Value": "NLJ41HAY6Q"},
                {"Key": "B2CRecipientIsRegisteredCustomer", "Value": "Y"},
                {"Key": "B2CChargesPaidAccountAvailableFunds", "Value": -4510.00},
                {"Key": "ReceiverPartyPublicName", "Value": "254708374149 - John Doe"},
                {"Key": "TransactionCompletedDateTime", "Value": "19.12.2019 11:45:50"},
                {"Key": "B2CUtilityAccountAvailableFunds", "Value": 10116.00},
                {"Key": "B2CWorkingAccountAvailableFunds", "Value": 900000.00},
            ]
        },
        "ReferenceData": {"ReferenceItem": {"Key": "QueueTimeoutURL", "Value": "https://pay.example.com/t"}},
    }
}


def test_b2c_result_gives_typed_accessors():
    result = parse_async_result(json.dumps(B2C_SUCCESS))
    assert result.succeeded
    assert result.transaction_amount == 10
    assert result.transaction_receipt == "NLJ41HAY6Q"
    assert result.recipient_is_registered is True
    assert result.receiver_party_public_name == "254708374149 - John Doe"
    assert result.transaction_completed_at == datetime(2019, 12, 19, 11, 45, 50, tzinfo=NAIROBI)
    assert result.parameters["B2CWorkingAccountAvailableFunds"] == Decimal("900000.00")
    assert result.references == {"QueueTimeoutURL": "https://pay.example.com/t"}  # single object, not a list


def test_single_result_parameter_object_is_accepted():
    body = json.loads(json.dumps(B2C_SUCCESS))
    body["Result"]["ResultParameters"] = {"ResultParameter": {"Key": "TransactionStatus", "Value": "Completed"}}
    assert parse_async_result(json.dumps(body)).transaction_status == "Completed"


def test_failed_result_without_parameters_or_references():
    body = {
        "Result": {
            "ResultType": "0",
            "ResultCode": 2001,
            "ResultDesc": "The initiator information is invalid.",
            "OriginatorConversationID": "29112-34801843-1",
            "ConversationID": "AG_20191219_00006c6fddb15123addf",
            "TransactionID": "NLJ0000000",
        }
    }
    result = parse_async_result(json.dumps(body))
    assert not result.succeeded
    assert result.result_code == "2001"
    assert result.parameters == {}
    assert result.transaction_amount is None


def test_result_that_cannot_be_correlated_is_rejected():
    with pytest.raises(CallbackPayloadError, match="ConversationID"):
        parse_async_result('{"Result": {"ResultCode": 0}}')


def test_account_balance_result_is_split_into_decimal_accounts():
    text = "Working Account|KES|700000.00|700000.00|0.00|0.00&Utility Account|KES|228037.00|228037.00|0.00|0.00"
    body = {
        "Result": {
            "ResultCode": 0,
            "ConversationID": "AG_1",
            "ResultParameters": {
                "ResultParameter": [
                    {"Key": "AccountBalance", "Value": text},
                    {"Key": "BOCompletedTime", "Value": 20200109125710},
                ]
            },
        }
    }
    balances = parse_async_result(json.dumps(body)).account_balances
    assert [b.name for b in balances] == ["Working Account", "Utility Account"]
    assert balances[1].available == Decimal("228037.00")
    assert balances[0].currency == "KES"


def test_c2b_payload_reads_amount_text_as_whole_units():
    body = {
        "TransactionType": "Pay Bill",
        "TransID": "RKTQDM7W6S",
        "TransTime": "20191122063845",
        "TransAmount": "10.00",
        "BusinessShortCode": 600638,
        "BillRefNumber": "invoice008",
        "InvoiceNumber": None,
        "OrgAccountBalance": "",
        "ThirdPartyTransID": "",
        "MSISDN": "25470****149",
        "FirstName": "John",
    }
    payload = parse_c2b_payload(json.dumps(body))
    assert payload.amount == 10
    assert payload.business_short_code == "600638"
    assert payload.invoice_number == ""
    assert payload.transaction_time == datetime(2019, 11, 22, 6, 38, 45, tzinfo=NAIROBI)


def test_c2b_amount_as_number_is_accepted_and_fractions_rejected():
    base = {"TransID": "R1", "BusinessShortCode": "600638"}
    assert parse_c2b_payload(json.dumps({**base, "TransAmount": 5})).amount == 5
    with pytest.raises(CallbackPayloadError, match="TransAmount"):
        parse_c2b_payload(json.dumps({**base, "TransAmount": "5.50"}))


def test_webhook_answers_have_daraja_shapes():
    assert callback_ack() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    assert c2b_validation_accept("tp-1") == {"ResultCode": "0", "ResultDesc": "Accepted", "ThirdPartyTransID": "tp-1"}
    assert c2b_validation_reject("C2B00012") == {"ResultCode": "C2B00012", "ResultDesc": "Rejected"}


def test_an_unused_item_with_an_object_value_does_not_spoil_the_callback():
    body = SEED_SUCCESS.replace('{"Name": "Balance"}', '{"Name": "Balance", "Value": {"Amount": 1}}')
    callback = parse_stk_callback(body)
    assert (callback.amount, callback.receipt, callback.phone) == (1000, "NLJ7RT61SV", "254708374149")
    with pytest.raises(InputError, match=r"CallbackMetadata\.Balance"):
        callback.balance  # noqa: B018  (only the item that is read is checked)


def test_a_used_item_with_an_object_value_is_refused():
    body = SEED_SUCCESS.replace('"Value": "NLJ7RT61SV"', '"Value": {"Receipt": "NLJ7RT61SV"}')
    with pytest.raises(CallbackPayloadError, match="MpesaReceiptNumber"):
        parse_stk_callback(body)


@pytest.mark.parametrize("amount", ["0", "-0", "0.00"])
def test_a_success_callback_without_a_positive_amount_is_refused(amount):
    with pytest.raises(CallbackPayloadError, match="positive"):
        parse_stk_callback(SEED_SUCCESS.replace("1000.00", amount))


QUEUE_TIMEOUT = {
    "Result": {
        "ResultType": 1,
        "ResultCode": 1,
        "ResultDesc": "The service request has timed out.",
        "OriginatorConversationID": "8a1f3c2e-5d4b-4f6a-9e8d-7c6b5a4f3e2d",
        "ConversationID": "AG_20261126_00004e48cf7e3533f581",
        "TransactionID": "",
    }
}


def test_a_queue_timeout_is_unknown_never_failed():
    """ResultCode 1 is also "insufficient balance": on the QueueTimeOutURL it means nothing happened yet."""
    timeout = parse_queue_timeout(json.dumps(QUEUE_TIMEOUT))
    assert timeout.is_queue_timeout
    assert not timeout.is_final
    assert not timeout.succeeded
    assert timeout.outcome == "unknown"


def test_a_timeout_shaped_result_is_unknown_on_any_route():
    assert parse_async_result(json.dumps(QUEUE_TIMEOUT)).outcome == "unknown"
    body = json.loads(json.dumps(QUEUE_TIMEOUT))
    body["Result"]["ResultType"] = 0
    assert parse_async_result(json.dumps(body)).is_queue_timeout  # the description says it


def test_a_failed_result_with_code_1_is_still_final():
    body = json.loads(json.dumps(QUEUE_TIMEOUT))
    body["Result"].update({"ResultType": 0, "ResultDesc": "The balance is insufficient for the transaction."})
    result = parse_async_result(json.dumps(body))
    assert (result.is_queue_timeout, result.is_final, result.outcome) == (False, True, "failed")
    assert parse_queue_timeout(json.dumps(body)).outcome == "unknown"  # the route decides
