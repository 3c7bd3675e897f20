"""Transaction Status, Account Balance and Reversal results."""

from __future__ import annotations

from typing import Any

from tests.support.daraja_wire import B2C_SHORTCODE, SUCCESS_NUMBER, Daraja, wait_until
from tests.support.receiver import CallbackReceiver

STATUS = "/mpesa/transactionstatus/v1/query"
BALANCE = "/mpesa/accountbalance/v1/query"
REVERSAL = "/mpesa/reversal/v1/request"


def parameters(result: dict[str, Any]) -> dict[str, Any]:
    return {p["Key"]: p["Value"] for p in result["ResultParameters"]["ResultParameter"]}


def paid_receipt(daraja: Daraja, receiver: CallbackReceiver) -> str:
    daraja.stk_push(SUCCESS_NUMBER, amount=40)
    items = receiver.wait("/stk")[0].body["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    receipt: str = next(i["Value"] for i in items if i["Name"] == "MpesaReceiptNumber")
    return receipt


def results(receiver: CallbackReceiver, count: int = 1) -> list[dict[str, Any]]:
    return [r.body["Result"] for r in receiver.wait("/result", count=count)]


def status_body(daraja: Daraja, **fields: Any) -> dict[str, Any]:
    return daraja.initiator_body(
        CommandID="TransactionStatusQuery", PartyA=B2C_SHORTCODE, IdentifierType="4", Occasion="", **fields
    )


def test_status_of_an_issued_receipt_is_completed(daraja: Daraja, receiver: CallbackReceiver) -> None:
    receipt = paid_receipt(daraja, receiver)
    sync = daraja.post(STATUS, status_body(daraja, TransactionID=receipt))
    assert sync.status_code == 200
    assert sync.json()["ResponseDescription"] == "Accept the service request successfully."
    result = results(receiver)[0]
    assert result["ResultCode"] == 0
    assert result["ConversationID"] == sync.json()["ConversationID"]
    params = parameters(result)
    assert params["TransactionStatus"] == "Completed"
    assert params["ReceiptNo"] == receipt
    assert params["Amount"] == 40
    assert {"DebitPartyName", "CreditPartyName", "InitiatedTime", "FinalisedTime", "ReasonType"} <= set(params)


def test_status_by_originator_conversation_id_of_a_payout(daraja: Daraja, receiver: CallbackReceiver) -> None:
    daraja.post("/mpesa/b2c/v3/paymentrequest", daraja.b2c_body(ocid="payout-7"))
    receiver.wait("/b2c/result")
    daraja.post(STATUS, status_body(daraja, OriginalConversationID="payout-7"))
    params = parameters(results(receiver)[0])
    assert params["TransactionStatus"] == "Completed"
    assert params["OriginatorConversationID"] == "payout-7"


def test_status_of_unknown_receipt_is_2032(daraja: Daraja, receiver: CallbackReceiver) -> None:
    daraja.post(STATUS, status_body(daraja, TransactionID="UNKNOWN123"))
    result = results(receiver)[0]
    assert (result["ResultCode"], result["ResultDesc"]) == (
        2032,
        "The transaction receipt number does not exist.",
    )
    assert "ResultParameters" not in result


def test_status_with_bad_credential_is_2001(daraja: Daraja, receiver: CallbackReceiver) -> None:
    daraja.post(STATUS, status_body(daraja, TransactionID="X", SecurityCredential=daraja.credential("wrong")))
    assert results(receiver)[0]["ResultCode"] == 2001


def test_status_needs_an_identifier(daraja: Daraja) -> None:
    response = daraja.post(STATUS, status_body(daraja))
    assert response.json()["errorMessage"] == "Bad Request - Invalid TransactionID"


def test_account_balance(daraja: Daraja, receiver: CallbackReceiver) -> None:
    body = daraja.initiator_body(CommandID="AccountBalance", PartyA=B2C_SHORTCODE, IdentifierType="4")
    assert daraja.post(BALANCE, body).status_code == 200
    params = parameters(results(receiver)[0])
    accounts = params["AccountBalance"].split("&")
    assert accounts[0] == "Working Account|KES|700000.00|700000.00|0.00|0.00"
    assert accounts[1] == "Utility Account|KES|1000000.00|1000000.00|0.00|0.00"
    assert all(len(a.split("|")) == 6 for a in accounts)
    assert isinstance(params["BOCompletedTime"], int)


def test_balance_follows_payments(daraja: Daraja, receiver: CallbackReceiver) -> None:
    paid_receipt(daraja, receiver)
    body = daraja.initiator_body(CommandID="AccountBalance", PartyA=B2C_SHORTCODE, IdentifierType="4")
    daraja.post(BALANCE, body)
    assert "Utility Account|KES|1000040.00|" in parameters(results(receiver)[0])["AccountBalance"]


def reversal_body(daraja: Daraja, receipt: str) -> dict[str, Any]:
    return daraja.initiator_body(
        CommandID="TransactionReversal",
        TransactionID=receipt,
        Amount=40,
        ReceiverParty="174379",
        RecieverIdentifierType="11",
        Occasion="",
    )


def test_reversal_then_already_reversed(daraja: Daraja, receiver: CallbackReceiver) -> None:
    receipt = paid_receipt(daraja, receiver)
    daraja.post(REVERSAL, reversal_body(daraja, receipt))
    first = results(receiver)[0]
    assert first["ResultCode"] == 0
    params = parameters(first)
    assert params["OriginalTransactionID"] == receipt
    assert params["Amount"] == 40
    assert params["TransCompletedTime"] > 20000000000000
    daraja.post(REVERSAL, reversal_body(daraja, receipt))
    second = results(receiver, 2)[1]
    assert (second["ResultCode"], second["ResultDesc"]) == (
        "R000001",
        "The transaction has already been reversed.",
    )


def test_reversal_of_unknown_receipt(daraja: Daraja, receiver: CallbackReceiver) -> None:
    daraja.post(REVERSAL, reversal_body(daraja, "NOPE000000"))
    result = results(receiver)[0]
    assert (result["ResultCode"], result["ResultDesc"]) == (
        "R000002",
        "The OriginalTransactionID is invalid.",
    )


def test_reversal_field_spelling_is_enforced(daraja: Daraja) -> None:
    body = reversal_body(daraja, "ABC")
    body["ReceiverIdentifierType"] = body.pop("RecieverIdentifierType")
    response = daraja.post(REVERSAL, body)
    assert response.json()["errorMessage"] == "Bad Request - Invalid RecieverIdentifierType"


def test_queue_timeout_for_balance(daraja: Daraja, receiver: CallbackReceiver) -> None:
    daraja.control("POST", "/faults", {"path": BALANCE, "kind": "queue_timeout"})
    body = daraja.initiator_body(CommandID="AccountBalance", PartyA=B2C_SHORTCODE, IdentifierType="4")
    sync = daraja.post(BALANCE, body).json()
    timeout = receiver.wait("/timeout")[0].body["Result"]
    assert timeout["ResultDesc"] == "The service request has timed out."
    assert timeout["ConversationID"] == sync["ConversationID"]
    logged = wait_until(lambda: daraja.control("GET", "/callbacks").json())
    assert [e["kind"] for e in logged] == ["queue_timeout"]
