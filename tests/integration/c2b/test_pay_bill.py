"""C2B end to end through the handlers: registration with the simulator, its validation and
confirmation callbacks over HTTP, STK + C2B for one receipt, expected payments."""

import concurrent.futures
import json
import time
from datetime import timedelta
from typing import Any

import pytest

from mpesa import runtime
from mpesa.clock import now_utc
from mpesa.records import Flag
from simulator.server import SimulatorServer
from tests.support.apigw import call_route
from tests.support.c2b import SHORT_CODE, c2b_payload, deliver
from tests.support.stack import control, wait_for
from tests.support.stk import body_for, push, settled


def register(handlers, body=None):
    return call_route(handlers["c2b_register"], "POST", "/v1/c2b/register", body=body or {})


def pay_bill(amount=150, reference="INV001", msisdn="254708374149"):
    """A customer pays the paybill (Daraja's sandbox C2B simulate, here the simulator's)."""
    answer = runtime.daraja().c2b_simulate(
        amount=amount, msisdn=msisdn, bill_ref_number=reference, short_code=SHORT_CODE
    )
    assert answer.response_code == "0"


def callbacks(simulator: SimulatorServer, kind: str) -> Any:
    return control(simulator, "GET", f"callbacks?kind={kind}")


def confirmed(simulator, count=1):
    """TransIDs of the confirmations the simulator delivered, once `count` of them were."""
    sent = wait_for(lambda: (c := callbacks(simulator, "c2b_confirmation")) and len(c) >= count and c)
    assert sent, "no confirmation was delivered"
    return [c["payload"]["TransID"] for c in sent]


def payment(handlers, trans_id):
    route = "/v1/c2b/transactions/{trans_id}"
    return call_route(handlers["c2b_transactions"], "GET", f"/v1/c2b/transactions/{trans_id}", route=route)


def events(stack, kind):
    return [e for e in stack.drain() if e["detail-type"] == kind]


def expect(handlers, reference="INV001", **terms):
    body = {"account_reference": reference, "expires_at": (now_utc() + timedelta(days=1)).isoformat(), **terms}
    body.setdefault("amount", "150")
    if "min_amount" in terms:
        body.pop("amount")
    return call_route(handlers["c2b_expected"], "POST", "/v1/c2b/expected", body=body)


def expected(handlers, reference):
    route = "/v1/c2b/expected/{reference}"
    return call_route(handlers["c2b_expected"], "GET", f"/v1/c2b/expected/{reference}", route=route)


def test_registered_urls_take_a_pay_bill_recorded_once_and_announced(stack, handlers, simulator, front):
    code, answer = register(handlers)
    assert (code, answer["status"], answer["api_version"], answer["response_type"]) == (
        200,
        "registered",
        "v2",
        "Completed",
    )
    [registration] = control(simulator, "GET", "c2b/registrations")
    assert registration["validation_url"].startswith(f"{front.url}/v1/hooks/c2b/{SHORT_CODE}/")
    assert registration["confirmation_url"].endswith("/confirmation")
    assert registration["response_type"] == "Completed"
    assert "***" not in registration["validation_url"]
    assert "***" in answer["validation_url"]
    pay_bill()
    [trans_id] = confirmed(simulator)
    code, view = wait_for(lambda: (r := payment(handlers, trans_id))[0] == 200 and r)
    assert (view["amount"], view["account_reference"], view["counted"], view["payer_name"]) == (
        150,
        "INV001",
        True,
        "John Doe",
    )
    assert len(view["phone"]) == 64  # v2: the SHA-256 hash, as given
    [received] = wait_for(lambda: events(stack, "c2b.received"))
    assert received["detail"]["trans_id"] == trans_id
    assert callbacks(simulator, "c2b_confirmation")[0]["response_status"] == 200


def test_registration_is_idempotent_and_v1_numbers_arrive_masked(stack, handlers, simulator, monkeypatch):
    assert register(handlers)[1]["status"] == "registered"
    assert register(handlers)[1]["status"] == "registered"  # the sandbox overwrites
    assert len(control(simulator, "GET", "c2b/registrations")) == 1
    monkeypatch.setenv("MPESA_C2B_API_VERSION", "v1")
    runtime.reset()
    assert register(handlers)[1]["api_version"] == "v1"
    pay_bill()
    [trans_id] = confirmed(simulator)
    view = wait_for(lambda: (r := payment(handlers, trans_id))[0] == 200 and r[1])
    assert view["phone"] == "2547 ***** 149"  # masked by Daraja: shown as given, never unmasked


def test_registering_a_shortcode_not_configured_is_refused(stack, handlers, simulator):
    code, body = register(handlers, {"short_code": "600123"})
    assert (code, body["fields"][0]["field"]) == (422, "short_code")
    assert control(simulator, "GET", "c2b/registrations") == []


def test_daraja_refusing_the_registration_is_a_502_with_its_code(stack, handlers, simulator):
    control(simulator, "POST", "faults", {"path": "/mpesa/c2b/v2/registerurl", "kind": "status", "status": 400})
    code, body = register(handlers)
    assert (code, body["error"]) == (502, "rejected_by_mpesa")


def enable_validation(simulator):
    control(simulator, "PUT", f"c2b/registrations/{SHORT_CODE}", {"external_validation": True})


def decision(trans_id):
    table = runtime.c2b_store()._table
    return table.get_item(Key={"pk": f"c2bvalidation#{trans_id}"})["Item"]


def test_validation_accepts_then_the_confirmation_follows(stack, handlers, simulator):
    register(handlers)
    enable_validation(simulator)
    pay_bill()
    [trans_id] = confirmed(simulator)
    [asked] = callbacks(simulator, "c2b_validation")
    assert json.loads(asked["response_body"]) == {"ResultCode": "0", "ResultDesc": "Accepted"}
    kept = decision(trans_id)
    assert (kept["accepted"], kept["result_code"], kept["rule"], kept["decisions"]) == (True, "0", "accepted", 1)


def test_a_rejected_payment_never_completes_and_the_reason_is_recorded(stack, handlers, simulator, monkeypatch):
    monkeypatch.setenv("C2B_VALIDATION_MODE", "expected")
    runtime.reset()
    register(handlers)
    enable_validation(simulator)
    pay_bill(reference="UNKNOWN9")
    [asked] = wait_for(lambda: callbacks(simulator, "c2b_validation"))
    assert json.loads(asked["response_body"]) == {"ResultCode": "C2B00012", "ResultDesc": "Rejected"}
    kept = decision(asked["payload"]["TransID"])
    assert (kept["accepted"], kept["rule"], kept["reason"]) == (
        False,
        "expected_payment",
        "no expected payment has this account number",
    )
    time.sleep(0.3)
    assert callbacks(simulator, "c2b_confirmation") == []


@pytest.mark.parametrize(("response_type", "completes"), [("Completed", True), ("Cancelled", False)])
def test_validation_that_does_not_answer_in_time_leaves_it_to_the_response_type(
    stack, handlers, simulator, monkeypatch, response_type, completes
):
    monkeypatch.setenv("C2B_RESPONSE_TYPE", response_type)
    runtime.reset()
    register(handlers)
    enable_validation(simulator)
    simulator.configure(validation_timeout_s=0.3)
    real = runtime.c2b_payments().validation.validate

    def slow(payload, **kwargs):
        time.sleep(1.0)  # a cold start, a slow table: longer than Daraja waits
        return real(payload, **kwargs)

    monkeypatch.setattr(runtime.c2b_payments().validation, "validate", slow)
    pay_bill()
    wait_for(lambda: callbacks(simulator, "c2b_validation"))
    if completes:
        [trans_id] = confirmed(simulator)
        assert wait_for(lambda: payment(handlers, trans_id)[0] == 200)
    else:
        time.sleep(1.5)
        assert callbacks(simulator, "c2b_confirmation") == []


@pytest.mark.parametrize(("on_error", "completes"), [("accept", True), ("reject", False)])
def test_validation_failing_internally_answers_the_configured_default(
    stack, handlers, simulator, monkeypatch, on_error, completes
):
    monkeypatch.setenv("C2B_VALIDATION_MODE", "expected")
    monkeypatch.setenv("C2B_VALIDATION_ON_ERROR", on_error)
    runtime.reset()
    register(handlers)
    enable_validation(simulator)

    def broken(reference):
        raise RuntimeError("the table is unreachable")

    monkeypatch.setattr(runtime.c2b_store(), "expected", broken)
    pay_bill()
    [asked] = wait_for(lambda: callbacks(simulator, "c2b_validation"))
    assert json.loads(asked["response_body"])["ResultCode"] == ("0" if completes else "C2B00016")
    assert decision(asked["payload"]["TransID"])["rule"] == "internal_error"
    if completes:
        assert confirmed(simulator)
    else:
        time.sleep(0.3)
        assert callbacks(simulator, "c2b_confirmation") == []


def test_duplicate_deliveries_are_stored_once_and_announced_once(stack, handlers, simulator):
    register(handlers)
    simulator.configure(callback_mode="duplicate", duplicate_count=3)
    pay_bill()
    [trans_id, *copies] = confirmed(simulator, count=3)
    assert set(copies) == {trans_id}
    wait_for(lambda: payment(handlers, trans_id)[0] == 200)
    time.sleep(0.2)
    assert [e["detail"]["trans_id"] for e in events(stack, "c2b.received")] == [trans_id]


def test_concurrent_confirmations_of_one_transid_are_stored_once(stack, handlers):
    payload = c2b_payload("TKQ4AB7XC1")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: deliver(handlers, "confirmation", payload), range(8)))
    assert {code for code, _ in answers} == {200}
    items = [i for i in runtime.c2b_store()._table.scan()["Items"] if i["pk"] == "txn#TKQ4AB7XC1"]
    assert len(items) == 1
    assert [e["detail"]["trans_id"] for e in events(stack, "c2b.received")] == ["TKQ4AB7XC1"]


@pytest.mark.parametrize("callback_mode", ["normal", "out_of_order"])
def test_an_stk_payment_also_confirmed_by_c2b_is_counted_once(stack, handlers, simulator, callback_mode):
    register(handlers)
    simulator.configure(stk_also_confirms_c2b=True, callback_mode=callback_mode, out_of_order_max_hold_s=0.5)
    code, accepted = push(handlers, body_for(amount="150"))
    assert code == 202
    paid = settled(handlers, accepted["transaction_id"])
    [receipt] = confirmed(simulator)
    assert paid["receipt"] == receipt
    c2b = wait_for(lambda: (r := payment(handlers, receipt))[0] == 200 and r[1])
    stk = wait_for(
        lambda: (r := runtime.store().get(accepted["transaction_id"])).linked_transaction_id is not None and r
    )
    assert (stk.status.value, stk.linked_transaction_id, c2b["linked_transaction_id"]) == (
        "SUCCESS",
        receipt,
        accepted["transaction_id"],
    )
    # Exactly one of the two records counts the money: the one holding the receipt's claim.
    holder = runtime.c2b_store()._table.get_item(Key={"pk": f"receipt#{receipt}"})["Item"]["transaction_id"]
    counting = [
        record_id
        for record_id, flags in ((accepted["transaction_id"], stk.flags), (receipt, tuple(c2b["flags"])))
        if Flag.COUNTED_BY_LINKED_RECORD.value not in flags
    ]
    assert counting == [holder]
    assert c2b["counted"] is (holder == receipt)
    assert "c2b.matched" not in [e["detail-type"] for e in stack.drain()]


@pytest.mark.parametrize(
    ("terms", "paid", "status", "paid_total", "event"),
    [
        ({"amount": "150"}, [150], "paid", 150, "c2b.matched"),
        ({"amount": "150"}, [100], "partial", 100, "c2b.matched"),
        ({"amount": "150"}, [200], "over", 200, "c2b.matched"),
        ({"min_amount": 100, "max_amount": 300}, [120, 50], "paid", 170, "c2b.matched"),
    ],
)
def test_a_pay_bill_settles_its_expected_payment(stack, handlers, simulator, terms, paid, status, paid_total, event):
    assert expect(handlers, **terms)[0] == 201
    register(handlers)
    for number, amount in enumerate(paid):
        pay_bill(amount=amount, reference="inv001")
        confirmed(simulator, count=number + 1)
    view = wait_for(lambda: (r := expected(handlers, "INV001")[1])["paid_total"] == paid_total and r)
    assert view["status"] == status
    assert [p["amount"] for p in view["payments"]] == paid
    matched = wait_for(lambda: events(stack, event))
    assert matched[-1]["detail"]["expected_payment"]["reference"] == "INV001"


def test_a_pay_bill_after_the_expiry_is_unmatched_and_not_counted(stack, handlers, simulator):
    expiry = now_utc() + timedelta(seconds=3)  # room for a slow machine to register it before it expires
    soon = expiry.isoformat()
    code, _ = call_route(
        handlers["c2b_expected"],
        "POST",
        "/v1/c2b/expected",
        body={"account_reference": "INV002", "amount": "150", "expires_at": soon},
    )
    assert code == 201
    register(handlers)
    time.sleep(max(0.0, (expiry - now_utc()).total_seconds()) + 0.1)
    pay_bill(reference="INV002")
    confirmed(simulator)
    view = wait_for(lambda: (r := expected(handlers, "INV002")[1])["payments"] and r)
    assert (view["status"], view["paid_total"], view["payments"][0]["applied"]) == ("expired", 0, False)
    [unmatched] = wait_for(lambda: events(stack, "c2b.unmatched"))
    assert unmatched["detail"]["expected_payment"]["match"] == "expired"
