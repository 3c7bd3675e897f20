"""wrong_id faults: Daraja answering about another transaction than the one asked about."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.daraja_wire import B2C_SHORTCODE, SUCCESS_NUMBER, Daraja
from tests.support.receiver import CallbackReceiver

QUERY = "/mpesa/stkpushquery/v1/query"
V3 = "/mpesa/b2c/v3/paymentrequest"
STATUS = "/mpesa/transactionstatus/v1/query"
BALANCE = "/mpesa/accountbalance/v1/query"
PENDING_PHONE = "254712345678"


def add_fault(daraja: Daraja, **spec: Any) -> dict[str, Any]:
    response = daraja.control("POST", "/faults", {"kind": "wrong_id", **spec})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def b2c_results(receiver: CallbackReceiver, count: int) -> list[dict[str, Any]]:
    return [r.body["Result"] for r in receiver.wait("/b2c/result", count=count)]


# --- STK query ----------------------------------------------------------------------------------
def test_query_answers_with_another_real_payment(daraja: Daraja, receiver: CallbackReceiver) -> None:
    paid = daraja.stk_push(SUCCESS_NUMBER)  # the sandbox number pays by itself
    receiver.wait("/stk")
    asked = daraja.stk_push(PENDING_PHONE)["CheckoutRequestID"]  # still pending: nobody answers it
    add_fault(daraja, path=QUERY)
    answer = daraja.stk_query(asked).json()
    assert answer["CheckoutRequestID"] == paid["CheckoutRequestID"]
    assert answer["MerchantRequestID"] == paid["MerchantRequestID"]
    assert answer["ResultCode"] == "0"  # the other payment's outcome, not the one asked about
    # The payment asked about is untouched, and the next query (no fault left) names it again.
    assert daraja.control("GET", f"/stk/{asked}").json()["status"] == "pending"
    honest = daraja.stk_query(asked).json()
    assert (honest["CheckoutRequestID"], honest["ResultCode"]) == (asked, "4999")


def test_query_with_no_other_payment_names_a_fresh_checkout_id(daraja: Daraja) -> None:
    asked = daraja.stk_push(PENDING_PHONE)
    add_fault(daraja, path=QUERY)
    answer = daraja.stk_query(asked["CheckoutRequestID"]).json()
    assert answer["CheckoutRequestID"].startswith("ws_CO_")
    assert answer["CheckoutRequestID"] != asked["CheckoutRequestID"]
    assert answer["MerchantRequestID"] != asked["MerchantRequestID"]
    assert answer["ResultCode"] == "4999"  # this payment's state, under an ID nobody was given
    assert daraja.control("GET", f"/stk/{answer['CheckoutRequestID']}").status_code == 404


def test_a_wildcard_wrong_id_fault_waits_for_a_path_it_applies_to(daraja: Daraja) -> None:
    daraja.token()
    add_fault(daraja, path="*")
    checkout = daraja.stk_push(PENDING_PHONE)["CheckoutRequestID"]  # a push is not a "which one" answer
    assert len(daraja.control("GET", "/faults").json()) == 1
    assert daraja.stk_query(checkout).json()["CheckoutRequestID"] != checkout
    assert daraja.control("GET", "/faults").json() == []


# --- Result envelopes ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("id_field", "other_ocid", "other_conversation"),
    [
        ("originator_conversation_id", True, False),
        ("conversation_id", False, True),
        ("both", True, True),
    ],
)
def test_b2c_result_carries_another_payouts_ids(
    daraja: Daraja, receiver: CallbackReceiver, id_field: str, other_ocid: bool, other_conversation: bool
) -> None:
    first = daraja.post(V3, daraja.b2c_body(ocid="pay-1")).json()
    b2c_results(receiver, 1)
    add_fault(daraja, path=V3, id_field=id_field)
    second = daraja.post(V3, daraja.b2c_body(ocid="pay-2")).json()
    result = b2c_results(receiver, 2)[1]
    expected_ocid = first["OriginatorConversationID"] if other_ocid else "pay-2"
    expected_conversation = first["ConversationID"] if other_conversation else second["ConversationID"]
    assert result["OriginatorConversationID"] == expected_ocid
    assert result["ConversationID"] == expected_conversation
    assert second["OriginatorConversationID"] == "pay-2"  # the acknowledgement is honest
    # The payout itself happened, and the simulator's truth files it under its real IDs.
    payout = daraja.control("GET", "/payouts?originator_conversation_id=pay-2").json()
    assert [(p["accepted"], p["payouts"]) for p in payout] == [(1, 1)]
    conversation = next(
        c for c in daraja.control("GET", "/conversations").json() if c["originator_conversation_id"] == "pay-2"
    )
    reported = conversation["reported_originator_conversation_id"]
    assert reported == (first["OriginatorConversationID"] if other_ocid else None)


def test_first_result_ever_gets_a_fresh_ocid(daraja: Daraja, receiver: CallbackReceiver) -> None:
    add_fault(daraja, path=V3)
    sync = daraja.post(V3, daraja.b2c_body(ocid="pay-only")).json()
    result = b2c_results(receiver, 1)[0]
    assert result["OriginatorConversationID"] not in ("pay-only", "")
    assert result["ConversationID"] == sync["ConversationID"]


def test_queue_timeout_envelope_carries_another_ocid(daraja: Daraja, receiver: CallbackReceiver) -> None:
    daraja.post(V3, daraja.b2c_body(ocid="pay-1"))
    b2c_results(receiver, 1)
    daraja.control("PUT", "/customers/254712000111", {"b2c": "queue_timeout"})
    add_fault(daraja, path=V3)
    daraja.post(V3, daraja.b2c_body(party_b="254712000111", ocid="pay-2"))
    notice = receiver.wait("/b2c/timeout")[0].body["Result"]
    assert notice["ResultDesc"] == "The service request has timed out."
    assert notice["OriginatorConversationID"] == "pay-1"


def test_status_and_balance_results_carry_another_requests_ocid(daraja: Daraja, receiver: CallbackReceiver) -> None:
    status_body = daraja.initiator_body(
        CommandID="TransactionStatusQuery", TransactionID="TC00000000", PartyA=B2C_SHORTCODE, IdentifierType="4"
    )
    first = daraja.post(STATUS, status_body).json()
    receiver.wait("/result")
    add_fault(daraja, path=STATUS)
    second = daraja.post(STATUS, status_body).json()
    results = receiver.wait("/result", count=2)
    assert results[1].body["Result"]["OriginatorConversationID"] == first["OriginatorConversationID"]
    # No earlier balance query: the latest request of any kind (the second status query) lends its OCID.
    add_fault(daraja, path=BALANCE)
    balance_body = daraja.initiator_body(CommandID="AccountBalance", PartyA=B2C_SHORTCODE, IdentifierType="4")
    balance = daraja.post(BALANCE, balance_body).json()
    result = receiver.wait("/result", count=3)[2].body["Result"]
    assert result["OriginatorConversationID"] == second["OriginatorConversationID"]
    assert result["ConversationID"] == balance["ConversationID"]


def test_wrong_id_fault_spec_is_validated(daraja: Daraja) -> None:
    response = daraja.control("POST", "/faults", {"kind": "wrong_id", "id_field": "receipt"})
    assert response.status_code == 400
    assert "id_field" in response.json()["error"]
