"""The STK Push API end to end in one process: handlers over moto, Daraja simulated over loopback HTTP,
callbacks delivered by the simulator to the webhook routes over real HTTP."""

import uuid

import pytest

from tests.support.apigw import call, http_event
from tests.support.stack import accept_prompt, clear_faults, inject_fault, simulator_requests, wait_for
from tests.support.stk import STK_PATH, body_for, push, query, settled, status, table, transactions


@pytest.mark.parametrize(
    ("phone", "final", "code", "outcome", "detail_type"),
    [
        ("254708374149", "SUCCESS", "0", "success", "payment.succeeded"),
        ("254111111111", "FAILED", "1", "failed", "payment.failed"),
        ("254222222222", "TIMEOUT", "1037", "retry", "payment.timed_out"),
        ("254333333333", "CANCELLED", "1032", "cancelled", "payment.cancelled"),
    ],
)
def test_each_sandbox_number_reaches_its_final_state(stack, handlers, phone, final, code, outcome, detail_type):
    status_code, accepted = push(handlers, body_for(phone=phone))
    assert status_code == 202, accepted
    assert accepted["status"] == "PENDING"
    assert accepted["checkout_request_id"].startswith("ws_CO_")

    payment = settled(handlers, accepted["transaction_id"])
    assert payment["status"] == final
    assert payment["result_code"] == code
    assert payment["outcome"] == outcome
    assert payment["phone"] == phone[:4] + "******" + phone[-2:]
    assert payment["amount"] == 10
    assert payment["currency"] == "KES"
    assert payment["settled_by"] == "callback"
    if final == "SUCCESS":
        assert len(payment["receipt"]) == 10
    else:
        assert payment["receipt"] is None

    events = wait_for(lambda: stack.of(accepted["transaction_id"]))
    assert [e["detail-type"] for e in events] == [detail_type]
    assert events[0]["detail"]["status"] == final
    assert phone not in str(events[0])  # no full MSISDN in events


def test_idempotent_replay_returns_the_first_response_and_pushes_once(stack, handlers, simulator):
    key = uuid.uuid4().hex
    first = push(handlers, body_for(), key=key)
    again = push(handlers, body_for(), key=key)
    assert first[0] == again[0] == 202
    assert again[1] == first[1]
    assert len(simulator_requests(simulator, STK_PATH)) == 1
    assert len([i for i in transactions() if i["record_type"] == "stk_push"]) == 1


def test_same_key_with_another_body_is_a_conflict(stack, handlers, simulator):
    key = uuid.uuid4().hex
    assert push(handlers, body_for(amount="10"), key=key)[0] == 202
    code, answer = push(handlers, body_for(amount="11"), key=key)
    assert code == 409
    assert answer["error"] == "idempotency_key_reused"
    assert len(simulator_requests(simulator, STK_PATH)) == 1


def test_equivalent_phone_forms_are_the_same_request(stack, handlers):
    key = uuid.uuid4().hex
    first = push(handlers, body_for(phone="0712345678"), key=key)
    again = push(handlers, body_for(phone="+254 712 345 678"), key=key)
    assert first == again


@pytest.mark.parametrize(
    ("body", "headers", "status_code", "field"),
    [
        (body_for(amount="10.5"), {}, 422, "amount"),
        (body_for(amount=10.5), {}, 422, "amount"),
        (body_for(amount="NaN"), {}, 422, "amount"),
        (body_for(amount="1e3"), {}, 422, "amount"),
        (body_for(amount="0"), {}, 422, "amount"),
        (body_for(amount="150001"), {}, 422, "amount"),
        (body_for(amount=10**40), {}, 422, "amount"),
        (body_for(amount=True), {}, 422, "amount"),
        (body_for(phone="0812345678"), {}, 422, "phone_number"),
        (body_for(phone=254712345678), {}, 422, "phone_number"),
        (body_for(country="NG"), {}, 422, "country"),
        (body_for(account_reference="A" * 13), {}, 422, "account_reference"),
        (body_for(transaction_desc="x" * 101), {}, 422, "transaction_desc"),
        (body_for(transaction_desc="<script>"), {}, 422, "transaction_desc"),
        (body_for(extra_field=1), {}, 422, "extra_field"),
        ({"amount": "10"}, {}, 422, "phone_number"),
        ("not json", {}, 400, None),
        ("[1, 2]", {}, 422, None),
        ('{"amount": NaN}', {}, 400, None),
        (body_for(), {"content-type": "text/plain"}, 415, None),
        ({"phone_number": "0712345678" * 2000}, {}, 413, None),
        (body_for(country="TZ", phone="0754123456", amount="99"), {}, 422, "amount"),
        (body_for(country="TZ", phone="0754123456", amount="1000"), {}, 422, "country"),
        (body_for(country="UG", phone="0772123456", amount="1000"), {}, 422, "country"),
    ],
)
def test_bad_requests_get_4xx_and_write_nothing(stack, handlers, simulator, body, headers, status_code, field):
    code, answer = push(handlers, body, headers=headers)
    assert code == status_code, answer
    if field:
        assert answer["fields"][0]["field"] == field, answer
    assert "Traceback" not in str(answer)
    assert transactions() == []
    assert simulator_requests(simulator, STK_PATH) == []


def test_a_long_description_is_sent_as_its_first_13_characters(stack, handlers, simulator):
    code, accepted = push(handlers, body_for(transaction_desc="Payment for Order 12345"))
    assert code == 202, accepted
    [sent] = simulator_requests(simulator, STK_PATH)
    assert sent["body"]["TransactionDesc"] == "Payment for O"
    item = table().get_item(Key={"pk": f"txn#{accepted['transaction_id']}"})["Item"]
    assert item["details"]["transaction_desc"] == "Payment for O"


def test_missing_idempotency_key_is_rejected(stack, handlers):
    event = http_event("POST", "/v1/payments/stk-push", body=body_for())
    code, answer = call(handlers["stk_push"], event)
    assert code == 422
    assert answer["fields"][0]["field"] == "idempotency-key"
    assert transactions() == []


def test_unknown_payment_is_404(stack, handlers):
    code, answer = status(handlers, uuid.uuid4().hex)
    assert code == 404
    assert answer["error"] == "not_found"


def test_daraja_unreachable_is_503_and_a_retry_may_send(stack, handlers, simulator, monkeypatch):
    from datetime import timedelta

    from mpesa import runtime
    from mpesa.clock import now_utc

    monkeypatch.setenv("MPESA_BASE_URL", "http://127.0.0.1:9")  # nothing listens: connect refused
    runtime.reset()
    key = uuid.uuid4().hex
    code, answer = push(handlers, body_for(), key=key)
    assert code == 503
    assert answer["error"] == "upstream_unavailable"
    # Nothing reached M-Pesa, so a retry with the same key is allowed to try again.
    monkeypatch.setenv("MPESA_BASE_URL", simulator.url)
    runtime.reset()
    assert runtime.sweep().run(now_utc() + timedelta(hours=1)) == {}  # no event for a refused call
    code, answer = push(handlers, body_for(), key=key)
    assert code == 202
    assert len(simulator_requests(simulator, STK_PATH)) == 1
    assert "payment.failed" not in [e["detail-type"] for e in stack.of(answer["transaction_id"])]


def test_gateway_503_on_push_is_an_unknown_outcome_never_resent(stack, handlers, simulator):
    inject_fault(simulator, path=STK_PATH, kind="status", status=503, count=10)
    code, answer = push(handlers, body_for(phone="254712345678"))
    assert code == 202
    assert answer["status"] == "PENDING"
    assert len(simulator_requests(simulator, STK_PATH)) == 1
    clear_faults(simulator)


def test_read_timeout_is_never_resent_and_reported_pending(stack, handlers, simulator, monkeypatch):
    monkeypatch.setenv("MPESA_READ_TIMEOUT_S", "0.5")
    inject_fault(simulator, path=STK_PATH, kind="slow", delay_s=1.5, count=1)
    code, answer = push(handlers, body_for(phone="254712345678"))
    assert code == 202
    assert answer["status"] == "PENDING"
    assert answer["checkout_request_id"] is None
    assert "not re-sent" in answer["detail"]
    assert len(simulator_requests(simulator, STK_PATH)) == 1


def test_daraja_rejection_maps_to_a_clear_error(stack, handlers, simulator):
    # A prompt is already pending for this customer: Daraja refuses a second one.
    assert push(handlers, body_for(phone="254712345678"))[0] == 202
    code, answer = push(handlers, body_for(phone="254712345678", amount="11"))
    assert code == 409
    assert answer["error"] == "customer_busy"
    assert answer["status"] == "FAILED"


def test_query_now_applies_a_final_answer(stack, handlers, simulator):
    simulator.configure(callback_mode="drop")
    code, accepted = push(handlers, body_for(phone="254712345678"))
    assert code == 202
    txn_id = accepted["transaction_id"]
    code, pending = query(handlers, txn_id)
    assert code == 200
    assert pending["status"] == "PENDING"
    assert pending["query"]["pending"] is True
    accept_prompt(simulator, accepted["checkout_request_id"])
    code, done = query(handlers, txn_id)
    assert done["status"] == "SUCCESS"
    assert done["settled_by"] == "query"
    assert done["query"]["result_code"] == "0"
