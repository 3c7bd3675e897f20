"""Payouts through the handlers, moto and the Daraja simulator over loopback HTTP: each Result path,
duplicates and races, queue timeouts, unknown outcomes, guard-rails and bad bodies."""

import json
import threading
import uuid
from datetime import timedelta

from mpesa import runtime
from mpesa.clock import NAIROBI, now_utc
from mpesa.records import Kind, NewRecord
from mpesa.records.budgets import Scope
from tests.support.apigw import call_route
from tests.support.b2c import (
    PHONE,
    deliver,
    events_of,
    items,
    paid,
    pay,
    payout,
    payout_body,
    payout_requests,
    settled,
)
from tests.support.stack import control, inject_fault, wait_for


def test_a_payout_succeeds_by_its_result(stack, handlers, simulator):
    code, accepted = pay(handlers, payout_body(occasion="Refund"))
    assert code == 202, accepted
    assert accepted["status"] == "PENDING"
    assert accepted["conversation_id"].startswith("AG_")
    payout_id = accepted["payout_id"]
    done = settled(handlers, payout_id)
    assert done["status"] == "SUCCESS"
    assert done["settled_by"] == "callback"
    (receipt,) = paid(simulator)
    assert done["receipt"] == receipt["receipt"]
    assert receipt["originator_conversation_id"] == accepted["originator_conversation_id"]
    assert (done["amount"], done["currency"], done["phone"]) == (500, "KES", "2547******49")
    assert PHONE not in json.dumps(done)
    assert done["recipient_registered"] is True
    assert set(done["balances"]) == {"utility", "working", "charges_paid"}
    assert done["completed_at"]
    assert (done["command_id"], done["remarks"], done["occasion"]) == ("BusinessPayment", "Refund 1234", "Refund")
    assert wait_for(lambda: events_of(stack, payout_id)) == ["payout.succeeded"]


def test_a_payout_that_fails_settles_failed_and_gives_its_budget_back(stack, handlers, simulator):
    code, accepted = pay(handlers, payout_body(phone="254111111111"))  # the sandbox's insufficient funds
    assert code == 202
    done = settled(handlers, accepted["payout_id"])
    assert (done["status"], done["result_code"], done["outcome"]) == ("FAILED", "1", "failed")
    assert done["receipt"] is None

    def shortcode_used():
        (counter,) = [i for i in items("b2c_budget") if i["scope"] == Scope.SHORTCODE.value]
        return counter["used"]

    assert wait_for(lambda: shortcode_used() == 0)  # given back just after the FAILED write
    (hold,) = items("b2c_budget_hold")
    assert hold["released"] is True
    assert wait_for(lambda: events_of(stack, accepted["payout_id"])) == ["payout.failed"]


def test_duplicate_results_from_daraja_settle_once(stack, handlers, simulator):
    simulator.configure(callback_mode="duplicate", duplicate_count=3)
    code, accepted = pay(handlers, payout_body())
    assert settled(handlers, accepted["payout_id"])["status"] == "SUCCESS"
    callbacks = wait_for(lambda: len(control(simulator, "GET", "callbacks?kind=b2c_result")) == 3)
    assert callbacks
    assert events_of(stack, accepted["payout_id"]) == ["payout.succeeded"]


def test_concurrent_results_settle_once(stack, handlers, simulator):
    simulator.configure(callback_mode="drop")
    code, accepted = pay(handlers, payout_body())
    (callback,) = wait_for(lambda: control(simulator, "GET", "callbacks?kind=b2c_result"))
    answers: list[int] = []

    errors: list[BaseException] = []

    def post() -> None:
        try:
            answers.append(deliver(handlers, "result", accepted["payout_id"], callback["payload"])[0])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert answers == [200] * 6
    assert payout(handlers, accepted["payout_id"])[1]["status"] == "SUCCESS"
    assert events_of(stack, accepted["payout_id"]) == ["payout.succeeded"]


def test_a_queue_timeout_is_unknown_then_the_late_result_settles_it(stack, handlers, simulator):
    simulator.configure(b2c_processing_delay_s=0.5)  # the notice comes at once, the Result once paid
    inject_fault(
        simulator, path="/mpesa/b2c/v3/paymentrequest", kind="queue_timeout", after_processing=True, late_result=True
    )
    code, accepted = pay(handlers, payout_body())
    assert code == 202
    assert settled(handlers, accepted["payout_id"], until=frozenset({"UNKNOWN"}))["result_desc"].startswith(
        "the request timed out in M-Pesa's queue"
    )
    done = settled(handlers, accepted["payout_id"])
    assert done["status"] == "SUCCESS"
    expected = ["payout.outcome_unknown", "payout.succeeded"]
    assert wait_for(lambda: (seen := events_of(stack, accepted["payout_id"])) == expected and seen) == expected
    assert len(paid(simulator)) == 1


def test_a_result_that_beats_the_stored_conversation_id_settles_the_payout(stack, handlers, simulator, monkeypatch):
    real = runtime.daraja()

    class ResultFirst:
        def b2c_payment(self, **kwargs):
            accepted = real.b2c_payment(**kwargs)
            payout_id = kwargs["result_url"].split("/")[-2]
            # Daraja's Result reaches us before its answer to the request does (they race in real life).
            wait_for(lambda: payout(handlers, payout_id)[1]["status"] == "SUCCESS")
            return accepted

        def __getattr__(self, name):
            return getattr(real, name)

    monkeypatch.setattr(runtime, "b2c_gateway", ResultFirst)
    code, accepted = pay(handlers, payout_body())
    assert (code, accepted["status"]) == (202, "SUCCESS")
    done = payout(handlers, accepted["payout_id"])[1]
    assert done["conversation_id"] == accepted["conversation_id"]
    assert done["flags"] == []


def test_same_key_and_body_answers_the_first_answer_another_body_409(stack, handlers, simulator):
    key = uuid.uuid4().hex
    first = pay(handlers, payout_body(), key=key)
    again = pay(handlers, payout_body(), key=key)
    assert first == again
    assert pay(handlers, payout_body(amount="600"), key=key)[0] == 409
    assert len(payout_requests(simulator)) == 1


def test_keys_are_scoped_to_the_calling_principal(stack, handlers, simulator):
    from tests.support.apigw import call, http_event

    def as_principal(arn):
        event = http_event("POST", "/v1/payouts", body=payout_body(), headers={"Idempotency-Key": "same-key-1"})
        event["requestContext"]["authorizer"] = {"iam": {"userArn": arn, "accountId": "123456789012"}}
        return call(handlers["b2c_payout"], event)

    first = as_principal("arn:aws:iam::123456789012:role/shop-a")
    second = as_principal("arn:aws:iam::123456789012:role/shop-b")
    assert first[1]["payout_id"] != second[1]["payout_id"]
    assert len(payout_requests(simulator)) == 2


# --- guard-rails -----------------------------------------------------------------------------------


def test_a_payout_over_the_daily_recipient_budget_is_refused_and_nothing_is_sent(stack, handlers, simulator):
    assert pay(handlers, payout_body(amount="15000"))[0] == 202
    code, refused = pay(handlers, payout_body(amount="6000"))
    assert code == 422
    assert refused["error"] == "daily_budget_exceeded"
    assert refused["fields"][0]["field"] == "amount"
    assert len(payout_requests(simulator)) == 1
    assert len(items("b2c_payout")) == 1
    assert pay(handlers, payout_body(phone="254712345678", amount="6000"))[0] == 202  # another recipient


def test_a_failed_payout_gives_its_budget_back_for_the_next_one(stack, handlers, simulator):
    code, failed = pay(handlers, payout_body(phone="254111111111", amount="15000"))
    assert settled(handlers, failed["payout_id"])["status"] == "FAILED"
    assert wait_for(lambda: items("b2c_budget_hold")[0]["released"])
    code, refused = pay(handlers, payout_body(phone="254111111111", amount="15000"))  # a new key
    assert code == 202  # the failed payout's 15,000 came back to the recipient's budget


def test_the_shortcode_budget_and_the_maximum_refuse_with_422(stack, handlers, simulator, monkeypatch):
    monkeypatch.setenv("MPESA_B2C_DAILY_BUDGET", "1000")
    monkeypatch.setenv("MPESA_B2C_MAX_PER_PAYOUT", "800")
    runtime.reset()
    code, refused = pay(handlers, payout_body(amount="900"))
    assert (code, refused["error"]) == (422, "payout_limit_exceeded")
    assert pay(handlers, payout_body(amount="700"))[0] == 202
    code, refused = pay(handlers, payout_body(amount="400", phone="254712345678"))
    assert (code, refused["error"]) == (422, "daily_budget_exceeded")
    assert "shortcode" in refused["message"]
    assert len(payout_requests(simulator)) == 1


def test_a_recipient_outside_the_allowlist_is_refused_with_403(stack, handlers, simulator, monkeypatch):
    monkeypatch.setenv("MPESA_B2C_ALLOWED_RECIPIENTS", "254712345678")
    runtime.reset()
    code, refused = pay(handlers, payout_body())
    assert (code, refused["error"], refused["fields"][0]["field"]) == (403, "recipient_not_allowed", "phone_number")
    assert payout_requests(simulator) == []
    assert items("b2c_payout") == []
    assert items("b2c_budget_hold") == []


# --- bad requests ----------------------------------------------------------------------------------


def test_bad_bodies_are_4xx_naming_the_field_and_write_nothing(stack, handlers, simulator):
    from tests.support.apigw import call, http_event

    cases = [
        (payout_body(command_id="BusinessPayBill"), 422, "command_id"),
        (payout_body(remarks="x"), 422, "remarks"),
        (payout_body(occasion="x" * 101), 422, "occasion"),
        (payout_body(amount="5"), 422, "amount"),
        (payout_body(amount="10.5"), 422, "amount"),
        (payout_body(phone="0712"), 422, "phone_number"),
        (payout_body(country="UG", phone="0712345678", amount="1000"), 422, "country"),
        ({**payout_body(), "extra": 1}, 422, "extra"),
    ]
    for body, status, field in cases:
        code, answer = pay(handlers, body)
        assert code == status, (body, answer)
        assert field in answer["message"], answer
    no_key = call(handlers["b2c_payout"], http_event("POST", "/v1/payouts", body=payout_body()))
    assert no_key[0] == 422
    not_json = call(
        handlers["b2c_payout"],
        http_event("POST", "/v1/payouts", body="{not json", headers={"Idempotency-Key": "k" * 10}),
    )
    assert not_json[0] == 400
    event = http_event(
        "POST", "/v1/payouts", body="phone=1", headers={"Idempotency-Key": "k" * 10, "content-type": "text/plain"}
    )
    assert call(handlers["b2c_payout"], event)[0] == 415
    assert payout_requests(simulator) == []
    assert [i for i in items("b2c_payout")] == []
    assert items("b2c_budget") == []


def test_an_unknown_payout_id_is_404(stack, handlers):
    assert payout(handlers, "0" * 32)[0] == 404
    assert payout(handlers, "not-hex")[0] == 422


def test_a_days_payouts_are_listed_newest_first_in_their_status_view(stack, handlers):
    paid_id = pay(handlers, payout_body())[1]["payout_id"]
    failed_id = pay(handlers, payout_body(phone="254111111111"))[1]["payout_id"]
    settled(handlers, paid_id)
    settled(handlers, failed_id)
    # A payment of the same day is not a payout.
    payment = NewRecord(Kind.STK, "a" * 32, "KE", "KES", 10, PHONE, {}, now_utc() + timedelta(minutes=5))
    runtime.store().create_pending(payment)

    def listing(**query):
        return call_route(handlers["payout_status"], "GET", "/v1/payouts", query=query)

    code, page = listing()
    assert code == 200, page
    assert [p["payout_id"] for p in page["items"]] == [failed_id, paid_id]
    done = page["items"][1]
    assert {k: v for k, v in done.items() if k != "events"} == payout(handlers, paid_id)[1]
    assert PHONE not in json.dumps(page)
    assert wait_for(
        lambda: (
            listing(status="SUCCESS")[1]["items"][0]["events"]
            == [{"type": "payout.succeeded", "event_id": f"{paid_id}:SUCCESS", "published": True}]
        )
    )
    assert [p["payout_id"] for p in listing(status="FAILED", limit="1")[1]["items"]] == [failed_id]
    tomorrow = (now_utc().astimezone(NAIROBI) + timedelta(days=1)).date().isoformat()
    assert listing(date=tomorrow)[1]["items"] == []
    code, refused = listing(status="LOST")
    assert (code, refused["fields"][0]["field"]) == (422, "status")
