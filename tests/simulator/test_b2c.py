"""B2C payouts: result callbacks, failures, duplicate OCIDs, credentials, queue timeouts."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.daraja_wire import INSUFFICIENT_NUMBER, SUCCESS_NUMBER, Daraja
from tests.support.receiver import CallbackReceiver

V3 = "/mpesa/b2c/v3/paymentrequest"
V1 = "/mpesa/b2c/v1/paymentrequest"


def parameters(result: dict[str, Any]) -> dict[str, Any]:
    return {p["Key"]: p["Value"] for p in result["ResultParameters"]["ResultParameter"]}


def result_of(receiver: CallbackReceiver, path: str = "/b2c/result") -> dict[str, Any]:
    body: dict[str, Any] = receiver.wait(path)[0].body["Result"]
    return body


def test_success(daraja: Daraja, receiver: CallbackReceiver) -> None:
    response = daraja.post(V3, daraja.b2c_body(ocid="pay-001"))
    assert response.status_code == 200
    sync = response.json()
    assert re.fullmatch(r"AG_\d{8}_[0-9a-f]{20}", sync["ConversationID"])
    assert sync["OriginatorConversationID"] == "pay-001"
    assert sync["ResponseCode"] == "0"
    assert sync["ResponseDescription"] == "Accept the service request successfully."

    result = result_of(receiver)
    assert (result["ResultType"], result["ResultCode"]) == (0, 0)
    assert result["ConversationID"] == sync["ConversationID"]
    assert result["OriginatorConversationID"] == "pay-001"
    params = parameters(result)
    assert set(params) == {
        "TransactionAmount",
        "TransactionReceipt",
        "ReceiverPartyPublicName",
        "TransactionCompletedDateTime",
        "B2CUtilityAccountAvailableFunds",
        "B2CWorkingAccountAvailableFunds",
        "B2CChargesPaidAccountAvailableFunds",
        "B2CRecipientIsRegisteredCustomer",
    }
    assert params["TransactionAmount"] == 100
    assert params["TransactionReceipt"] == result["TransactionID"]
    assert re.fullmatch(r"[A-Z0-9]{10}", params["TransactionReceipt"])
    assert params["ReceiverPartyPublicName"].startswith(f"{SUCCESS_NUMBER} - ")
    assert re.fullmatch(r"\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}:\d{2}", params["TransactionCompletedDateTime"])
    assert params["B2CRecipientIsRegisteredCustomer"] == "Y"
    assert params["B2CUtilityAccountAvailableFunds"] == 999900
    assert result["ReferenceData"]["ReferenceItem"]["Key"] == "QueueTimeoutURL"


def test_insufficient_funds_number(daraja: Daraja, receiver: CallbackReceiver) -> None:
    daraja.post(V3, daraja.b2c_body(party_b=INSUFFICIENT_NUMBER))
    result = result_of(receiver)
    assert result["ResultCode"] == 1
    assert result["ResultDesc"] == "The balance is insufficient for the transaction."
    assert "ResultParameters" not in result


def test_duplicate_originator_conversation_id(daraja: Daraja) -> None:
    assert daraja.post(V3, daraja.b2c_body(ocid="dup-1")).status_code == 200
    again = daraja.post(V3, daraja.b2c_body(ocid="dup-1"))
    assert again.status_code == 500
    assert again.json()["errorCode"] == "500.002.1001"
    assert again.json()["errorMessage"] == "Duplicate OriginatorConversationID."


def test_wrong_security_credential_gives_2001_result(daraja: Daraja, receiver: CallbackReceiver) -> None:
    body = daraja.b2c_body(SecurityCredential=daraja.credential("not-the-password"))
    assert daraja.post(V3, body).status_code == 200  # accepted: the check is asynchronous
    result = result_of(receiver)
    assert (result["ResultCode"], result["ResultDesc"]) == (2001, "The initiator information is invalid.")


def test_garbage_credential_and_wrong_initiator_give_2001(daraja: Daraja, receiver: CallbackReceiver) -> None:
    daraja.post(V3, daraja.b2c_body(ocid="g-1", SecurityCredential="bm90IHJzYQ=="))
    daraja.post(V3, daraja.b2c_body(ocid="g-2", InitiatorName="someone"))
    results = [r.body["Result"]["ResultCode"] for r in receiver.wait("/b2c/result", count=2)]
    assert results == [2001, 2001]


def test_v1_generates_the_originator_conversation_id(daraja: Daraja, receiver: CallbackReceiver) -> None:
    body = daraja.b2c_body(ocid=None)
    body["Occasion"] = body.pop("Occassion")
    sync = daraja.post(V1, body).json()
    assert re.fullmatch(r"\d{5}-\d{6}-\d", sync["OriginatorConversationID"])
    assert result_of(receiver)["OriginatorConversationID"] == sync["OriginatorConversationID"]


def test_queue_timeout_fault_not_processed(daraja: Daraja, receiver: CallbackReceiver) -> None:
    daraja.control("POST", "/faults", {"path": V3, "kind": "queue_timeout"})
    sync = daraja.post(V3, daraja.b2c_body(ocid="qt-1")).json()
    assert sync["ResponseCode"] == "0"
    timeout = result_of(receiver, "/b2c/timeout")
    assert timeout["ResultDesc"] == "The service request has timed out."
    assert timeout["ConversationID"] == sync["ConversationID"]
    assert timeout["OriginatorConversationID"] == "qt-1"
    assert receiver.records("/b2c/result") == []
    assert daraja.control("GET", "/receipts").json() == []


def test_queue_timeout_fault_after_processing_pays(daraja: Daraja, receiver: CallbackReceiver) -> None:
    daraja.control("POST", "/faults", {"path": "*", "kind": "queue_timeout", "after_processing": True})
    daraja.post(V3, daraja.b2c_body(ocid="qt-2"))
    result_of(receiver, "/b2c/timeout")
    receipts = daraja.control("GET", "/receipts").json()
    assert [(r["kind"], r["originator_conversation_id"]) for r in receipts] == [("b2c", "qt-2")]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"CommandID": "Payout"}, "CommandID"),
        ({"Amount": 9}, "Amount"),
        ({"Amount": "100.50"}, "Amount"),
        ({"PartyB": "0712345678"}, "PartyB"),
        ({"Remarks": "x"}, "Remarks"),
        ({"Remarks": "x" * 101}, "Remarks"),
        ({"ResultURL": "https://example.com/mpesa/result"}, "ResultURL"),
        ({"QueueTimeOutURL": ""}, "QueueTimeOutURL"),
        ({"InitiatorName": ""}, "InitiatorName"),
        ({"SecurityCredential": None}, "SecurityCredential"),
        ({"OriginatorConversationID": None}, "OriginatorConversationID"),
        ({"Occassion": "x" * 101}, "Occassion"),
    ],
)
def test_validation(daraja: Daraja, overrides: dict[str, Any], field: str) -> None:
    response = daraja.post(V3, daraja.b2c_body(**overrides))
    assert response.status_code == 400, response.text
    assert response.json()["errorCode"] == "400.002.02"
    assert response.json()["errorMessage"] == f"Bad Request - Invalid {field}"


def test_rejected_request_does_not_burn_the_ocid(daraja: Daraja) -> None:
    assert daraja.post(V3, daraja.b2c_body(ocid="retry-1", Amount=1)).status_code == 400
    assert daraja.post(V3, daraja.b2c_body(ocid="retry-1")).status_code == 200
