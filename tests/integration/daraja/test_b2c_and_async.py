"""B2C v3, Transaction Status, Account Balance, Reversal, C2B: results arrive as real callbacks."""

import asyncio
import re
import time

import pytest

from mpesa.daraja import (
    OutcomeUnknownError,
    parse_async_result,
    parse_c2b_payload,
    parse_queue_timeout,
    parse_stk_callback,
)
from mpesa.service import MpesaService
from tests.support.daraja import seed_b2c_payment
from tests.support.daraja_simulator import build_client

B2C = "/mpesa/b2c/v3/paymentrequest"
RESULT, TIMEOUT = "/v1/hooks/result", "/v1/hooks/timeout"


def hook(receiver, path):
    return receiver.url + path


def pay_out(client, receiver, ocid, amount=500):
    return client.b2c_payment(
        phone_number="254708374149",
        amount=amount,
        command_id="BusinessPayment",
        remarks="Refund for order 7",
        occasion="Refund",
        originator_conversation_id=ocid,
        result_url=hook(receiver, RESULT),
        queue_timeout_url=hook(receiver, TIMEOUT),
    )


def b2c_receipts(simulator, ocid):
    return [r for r in simulator.receipts() if r["originator_conversation_id"] == ocid]


def test_seed_b2c_example_pays_and_the_result_callback_parses(receiver, mpesa):
    result = seed_b2c_payment(mpesa)
    assert result["success"], result
    assert result["conversation_id"].startswith("AG_")
    body = receiver.wait_for("/v1/hooks/b2c/result", result["conversation_id"])
    outcome = parse_async_result(body)
    assert outcome.succeeded
    assert outcome.transaction_amount == 5000
    assert outcome.transaction_receipt
    assert outcome.recipient_is_registered is True
    assert outcome.transaction_completed_at is not None
    assert "QueueTimeoutURL" in outcome.references


def test_resending_with_the_same_ocid_is_accepted_earlier_and_pays_once(simulator, receiver, client):
    first = pay_out(client, receiver, "ocid-dup-1")
    again = pay_out(client, receiver, "ocid-dup-1")
    assert first.conversation_id
    assert not first.accepted_earlier
    assert again.accepted_earlier
    assert again.originator_conversation_id == "ocid-dup-1"
    assert [r["status"] for r in simulator.requests(B2C)] == [200, 500]
    assert len(b2c_receipts(simulator, "ocid-dup-1")) == 1


def test_b2c_read_timeout_is_retried_with_the_same_ocid_and_never_pays_twice(simulator, receiver, impatient_client):
    simulator.fault(B2C, "slow", delay_s=1.5)
    answer = pay_out(impatient_client, receiver, "ocid-slow-1")
    assert answer.accepted_earlier  # the retry met Daraja's duplicate check: outcome pending
    sent = simulator.requests(B2C)
    assert len(sent) == 2
    assert {r["body"]["OriginatorConversationID"] for r in sent} == {"ocid-slow-1"}
    assert len(b2c_receipts(simulator, "ocid-slow-1")) == 1


def test_b2c_503_burst_is_retried(simulator, receiver, client):
    simulator.fault(B2C, "status", status=503, count=2)
    answer = pay_out(client, receiver, "ocid-503-1")
    assert answer.conversation_id
    assert not answer.accepted_earlier
    assert [r["status"] for r in simulator.requests(B2C)] == [503, 503, 200]


def test_b2c_without_any_answer_is_unknown_and_carries_the_ocid(simulator, receiver, client):
    simulator.fault(B2C, "disconnect", after_processing=True, count=4)
    with pytest.raises(OutcomeUnknownError) as caught:
        pay_out(client, receiver, "ocid-gone-1")
    assert caught.value.originator_conversation_id == "ocid-gone-1"
    # It was paid; Transaction Status by OCID finds it (resolve by query, never by re-sending blindly).
    # Daraja may still be processing it ("not found" for a while): keep asking, as a backend must.
    for _ in range(50):
        receiver.clear()
        client.transaction_status(
            originator_conversation_id="ocid-gone-1",
            result_url=hook(receiver, "/v1/hooks/status/result"),
            queue_timeout_url=hook(receiver, TIMEOUT),
        )
        status = parse_async_result(receiver.wait_for("/v1/hooks/status/result"))
        if status.transaction_status == "Completed":
            break
        time.sleep(0.1)
    assert status.transaction_status == "Completed"


def test_queue_timeout_callback_parses_with_the_result_envelope(simulator, receiver, client):
    simulator.fault(B2C, "queue_timeout")
    accepted = pay_out(client, receiver, "ocid-queue-1")
    body = receiver.wait_for(TIMEOUT, accepted.conversation_id or "")
    timeout = parse_queue_timeout(body)
    assert timeout.result_code == "1"  # the same code as "insufficient balance", yet not a failure
    assert timeout.is_queue_timeout
    assert not timeout.is_final
    assert timeout.outcome == "unknown"
    assert not timeout.succeeded
    assert parse_async_result(body).is_queue_timeout  # ResultType 1 / "timed out" say it on any route
    assert receiver.received(RESULT) == []


def test_wrong_initiator_password_is_accepted_then_fails_with_2001(settings_for, receiver):
    client = build_client(settings_for(MPESA_INITIATOR_PASSWORD="wrong-password"))
    accepted = pay_out(client, receiver, "ocid-cred-1")
    result = parse_async_result(receiver.wait_for(RESULT, accepted.conversation_id or ""))
    assert result.result_code == "2001"
    assert result.transaction_amount is None


def test_transaction_status_balance_and_reversal_of_an_stk_payment(receiver, client):
    pushed = client.stk_push(
        phone_number="254708374149",
        amount=100,
        account_reference="INV-20",
        transaction_desc="Order 20",
        callback_url=hook(receiver, "/v1/hooks/stk"),
    )
    receipt = parse_stk_callback(receiver.wait_for("/v1/hooks/stk", pushed.checkout_request_id)).receipt
    assert receipt

    status_ack = client.transaction_status(
        transaction_id=receipt,
        result_url=hook(receiver, "/v1/hooks/status/result"),
        queue_timeout_url=hook(receiver, TIMEOUT),
    )
    status = parse_async_result(receiver.wait_for("/v1/hooks/status/result", status_ack.conversation_id))
    assert (status.transaction_status, status.parameter("ReceiptNo")) == ("Completed", receipt)

    balance_ack = client.account_balance(
        result_url=hook(receiver, "/v1/hooks/balance/result"), queue_timeout_url=hook(receiver, TIMEOUT)
    )
    balance = parse_async_result(receiver.wait_for("/v1/hooks/balance/result", balance_ack.conversation_id))
    accounts = {a.name: a for a in balance.account_balances}
    assert accounts["Working Account"].currency == "KES"
    assert "Utility Account" in accounts

    for expected in ("0", "R000001"):  # the second reversal: already reversed
        ack = client.reversal(
            transaction_id=receipt,
            amount=100,
            result_url=hook(receiver, "/v1/hooks/reversal/result"),
            queue_timeout_url=hook(receiver, TIMEOUT),
        )
        reversal = parse_async_result(receiver.wait_for("/v1/hooks/reversal/result", ack.conversation_id))
        assert reversal.result_code == expected


def test_seed_account_balance_call_is_accepted(receiver, mpesa):
    result = asyncio.run(mpesa.get_account_balance())
    assert (result["success"], result["status"]) == (True, "pending")
    balance = parse_async_result(receiver.wait_for("/v1/hooks/balance/result", result["conversation_id"]))
    assert balance.account_balances


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_c2b_register_and_simulate_deliver_validation_and_confirmation(settings_for, receiver, simulator, version):
    simulator.configure(c2b_external_validation=True)  # off until Safaricom enables it for a shortcode
    client = build_client(settings_for(MPESA_C2B_API_VERSION=version))
    registered = client.c2b_register_urls(
        short_code="600984",
        confirmation_url=hook(receiver, "/v1/hooks/c2b/confirmation"),
        validation_url=hook(receiver, "/v1/hooks/c2b/validation"),
    )
    assert registered.accepted
    assert registered.originator_conversation_id  # read from Safaricom's misspelt key
    simulated = client.c2b_simulate(short_code="600984", amount=150, msisdn="254708374149", bill_ref_number="INV-30")
    assert simulated.accepted
    assert simulator.requests(f"/mpesa/c2b/{version}/simulate")
    validation = parse_c2b_payload(receiver.wait_for("/v1/hooks/c2b/validation", "INV-30"))
    confirmation = parse_c2b_payload(receiver.wait_for("/v1/hooks/c2b/confirmation", "INV-30"))
    assert validation.trans_id == confirmation.trans_id
    assert (confirmation.amount, confirmation.bill_ref_number) == (150, "INV-30")
    assert confirmation.org_account_balance
    assert not validation.org_account_balance
    if version == "v2":
        assert re.fullmatch(r"[0-9a-f]{64}", confirmation.msisdn)  # hashed, never a key
    else:
        assert "*" in confirmation.msisdn


def test_b2c_timing_out_on_every_attempt_is_timeout_with_the_ocid_and_paid_once(simulator, impatient_client):
    simulator.fault(B2C, "slow", delay_s=1.5, count=4)  # each attempt is processed, then answered too late
    result = asyncio.run(
        MpesaService(client=impatient_client).b2c_payment(
            "254708374149", 500, None, "Refund", originator_conversation_id="ocid-svc-1"
        )
    )
    assert (result["success"], result["status"], result["error_code"]) == (False, "unknown", "TIMEOUT")
    assert result["originator_conversation_id"] == "ocid-svc-1"
    assert len(simulator.requests(B2C)) == 4  # 1 + 3 retries, all with the same OCID
    assert len(b2c_receipts(simulator, "ocid-svc-1")) == 1  # paid once
