"""STK push and query against the simulator over loopback HTTP, callbacks received for real."""

import asyncio
import json

import pytest

from mpesa.clock import Deadline
from mpesa.daraja.callbacks import parse_stk_callback
from mpesa.daraja.errors import DarajaApiError, OutcomeUnknownError
from mpesa.service import MpesaService

PUSH = "/mpesa/stkpush/v1/processrequest"
QUERY = "/mpesa/stkpushquery/v1/query"
STK_HOOK = "/v1/hooks/stk"
PATIENT_PHONE = "254712345678"  # not a sandbox number: waits for the customer


@pytest.fixture
def seed_env(monkeypatch, simulator, receiver):
    """The integration guide's environment variables, pointed at the simulator."""
    for name in ("MPESA_SECRET_ID", "STATE_TABLE_NAME"):
        monkeypatch.delenv(name, raising=False)
    env = {
        "MMO_MPESA_CONSUMER_KEY": "sim-consumer-key",
        "MMO_MPESA_CONSUMER_SECRET": "sim-consumer-secret",
        "MMO_MPESA_BUSINESS_SHORT_CODE": "174379",
        "MMO_MPESA_PASSKEY": "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919",
        "MPESA_ENVIRONMENT": "sandbox",
        "MPESA_BASE_URL": simulator.url,
        "MPESA_CALLBACK_BASE_URL": receiver.url,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize(
    ("phone", "result_code", "status"),
    [
        ("254708374149", 0, "success"),
        ("254111111111", 1, "failed"),
        ("254222222222", 1037, "retry"),
        ("254333333333", 1032, "cancelled"),
    ],
)
def test_seed_sandbox_numbers_give_their_outcomes_through_real_callbacks(
    seed_env, receiver, phone, result_code, status
):
    async def seed_example():
        mpesa = MpesaService()
        result = await mpesa.stk_push(
            phone_number=phone, amount=1000.00, account_reference="ORDER_12345", transaction_desc="Payment"
        )
        assert result["success"], result
        checkout_request_id = result["checkout_request_id"]
        body = await asyncio.to_thread(receiver.wait_for, STK_HOOK, checkout_request_id)
        query = await mpesa.query_stk_push(checkout_request_id=checkout_request_id)
        return checkout_request_id, body, query

    checkout_request_id, body, query = asyncio.run(seed_example())
    callback = parse_stk_callback(body)
    assert callback.checkout_request_id == checkout_request_id
    assert callback.result_code == str(result_code)
    assert callback.outcome == status
    assert query["status"] == status
    assert query["result_code"] == result_code
    assert query["success"] is (status == "success")
    if status == "success":
        assert callback.amount == 1000
        assert callback.receipt is not None
        assert len(callback.receipt) == 10
        assert callback.phone == phone
        assert callback.transaction_date is not None
    else:
        assert callback.amount is None


@pytest.mark.parametrize("style", ["4999", "500.001.1001"])
def test_query_is_pending_until_the_customer_pays_in_either_pending_style(simulator, receiver, mpesa, style):
    simulator.configure(stk_query_pending_style=style)
    started = asyncio.run(mpesa.stk_push(PATIENT_PHONE, 10, "INV-7", "Order 7"))
    cid = started["checkout_request_id"]
    pending = asyncio.run(mpesa.query_stk_push(cid))
    assert (pending["status"], pending["result_code"], pending["pending_code"]) == ("pending", None, style)

    paid = simulator.accept(cid)
    callback = parse_stk_callback(receiver.wait_for(STK_HOOK, cid))
    assert callback.receipt == paid["receipt"]
    assert callback.amount == 10
    final = asyncio.run(mpesa.query_stk_push(cid))
    assert (final["status"], final["result_code"], final["success"]) == ("success", 0, True)


def test_wrong_pin_ends_the_payment_with_2001(simulator, receiver, client):
    pushed = client.stk_push(
        phone_number=PATIENT_PHONE,
        amount=25,
        account_reference="INV-8",
        transaction_desc="Order 8",
        callback_url=receiver.url + STK_HOOK,
    )
    simulator.accept(pushed.checkout_request_id, pin="0000")
    callback = parse_stk_callback(receiver.wait_for(STK_HOOK, pushed.checkout_request_id))
    assert (callback.result_code, callback.outcome) == ("2001", "failed")


def test_read_timeout_on_stk_push_is_timeout_and_sent_exactly_once(simulator, impatient_client):
    simulator.fault(PUSH, "slow", delay_s=1.5)
    result = asyncio.run(MpesaService(client=impatient_client).stk_push(PATIENT_PHONE, 10, "INV-9", "Order 9"))
    assert result["error_code"] == "TIMEOUT"
    assert result["success"] is False
    assert len(simulator.requests(PUSH)) == 1
    # The push really was created: the customer has a prompt. Only a callback or reconciliation tells more.
    assert len(simulator.prompts(PATIENT_PHONE)) == 1


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 503},  # Incapsula HTML: not re-sent, outcome unknown
        {"kind": "status", "status": 504},
        {"kind": "disconnect", "after_processing": True},
        {"kind": "malformed", "after_processing": True},
    ],
    ids=["503", "504", "reset-after-sending", "malformed-after-processing"],
)
def test_stk_push_is_never_resent_when_its_outcome_is_unknown(simulator, client, receiver, fault):
    simulator.fault(PUSH, **fault)
    with pytest.raises(OutcomeUnknownError) as caught:
        client.stk_push(
            phone_number=PATIENT_PHONE,
            amount=10,
            account_reference="INV-10",
            transaction_desc="Order 10",
            callback_url=receiver.url + STK_HOOK,
        )
    assert caught.value.error_code == "TIMEOUT"
    assert len(simulator.requests(PUSH)) == 1


def test_503_burst_on_stk_query_is_retried(simulator, client, receiver):
    pushed = client.stk_push(
        phone_number="254708374149",
        amount=10,
        account_reference="INV-11",
        transaction_desc="Order 11",
        callback_url=receiver.url + STK_HOOK,
    )
    receiver.wait_for(STK_HOOK, pushed.checkout_request_id)
    simulator.fault(QUERY, "status", status=503, count=2)
    simulator.fault(QUERY, "status", status=504, count=1)
    answer = client.stk_query(pushed.checkout_request_id)
    assert answer.result_code == "0"
    assert [r["status"] for r in simulator.requests(QUERY)] == [503, 503, 504, 200]


def test_a_retry_that_cannot_finish_before_the_deadline_is_not_started(simulator, client):
    simulator.fault(QUERY, "status", status=503, count=3)
    client.access_token()  # the token is not what this test is about
    # Each attempt may take connect 2 s + read 5 s: with 3 s left, no retry fits.
    with pytest.raises(DarajaApiError) as caught:
        client.stk_query("ws_CO_unknown", deadline=Deadline.within(3.0))
    assert caught.value.http_status == 503
    assert len(simulator.requests(QUERY)) == 1


def test_stk_push_request_body_is_what_daraja_documents(simulator, client, receiver):
    client.stk_push(
        phone_number="254708374149",
        amount=10,
        account_reference="INV-12",
        transaction_desc="Order 12",
        callback_url=receiver.url + STK_HOOK,
    )
    body = simulator.requests(PUSH)[0]["body"]
    assert set(body) == {
        "BusinessShortCode",
        "Password",
        "Timestamp",
        "TransactionType",
        "Amount",
        "PartyA",
        "PartyB",
        "PhoneNumber",
        "CallBackURL",
        "AccountReference",
        "TransactionDesc",
    }
    assert json.dumps(body["Amount"]) == "10"
