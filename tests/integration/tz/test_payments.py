"""A Tanzanian payment through the handlers, the prompt state machine (moto's ASL interpreter) and the
simulator's Vodacom OpenAPI: answered 202 at once, the prompt sent once, the record settled and
announced like a Kenyan one; an INS-9 or a lost answer is resolved by query, never by a second prompt."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from mpesa import runtime
from mpesa.clock import Deadline, now_utc
from mpesa.flows.stk import StkPaymentRequest, StkPayments, transaction_id_for
from mpesa.records import Flag, Ref, Status
from simulator.server import SimulatorServer
from tests.integration.tz.conftest import Tanzania
from tests.support.apigw import Context
from tests.support.fakes import RecordingStarter
from tests.support.sfn import run_to_end, states_entered
from tests.support.stack import wait_for
from tests.support.stk import body_for, push, query, status

C2B = "/sandbox/ipg/v2/vodacomTZN/c2bPayment/singleStage/"
PAYS, NO_FUNDS, CANCELS, WRONG_PIN = "255740000001", "255740000002", "255740000003", "255740000004"
NEVER_ANSWERS, PAYS_LATE, UNREGISTERED = "255740000005", "255740000006", "255740000009"
PERSON = "255754000123"  # not a test number: waits for a person (or the control API)


def tz_body(phone: str = PAYS, amount: str = "1500") -> Any:
    return body_for(phone=phone, amount=amount, country="TZ")


def final(handlers: dict[str, Any], transaction_id: str, until: frozenset[str] | None = None) -> dict[str, Any]:
    done = until or frozenset({"SUCCESS", "FAILED", "CANCELLED", "TIMEOUT", "UNKNOWN"})

    def probe() -> dict[str, Any] | None:
        code, body = status(handlers, transaction_id)
        return body if code == 200 and body["status"] in done and body["settled_by"] else None

    found: dict[str, Any] | None = wait_for(probe, timeout_s=20)
    assert found, f"payment {transaction_id} did not settle"
    return found


def c2b_calls(tz: Tanzania, caller_id: str) -> int:
    return tz.openapi.call_counts().get(caller_id, {}).get("c2b", 0)


def test_a_payment_is_answered_at_once_and_settled_by_the_prompt_flow(tz, handlers):
    code, accepted = push(handlers, tz_body())
    assert code == 202, accepted
    caller_id = accepted["third_party_conversation_id"]
    assert (accepted["status"], accepted["checkout_request_id"]) == ("PENDING", None)
    payment = final(handlers, accepted["transaction_id"])
    assert (payment["status"], payment["outcome"], payment["settled_by"]) == ("SUCCESS", "success", "answer")
    assert (payment["amount"], payment["currency"], payment["country"]) == (1500, "TZS", "TZ")
    assert payment["phone"] == "2557******01"
    (paid,) = tz.openapi.transactions(third_party_conversation_id=caller_id)
    assert (paid["kind"], paid["status"], paid["transaction_id"]) == ("c2b", "Completed", payment["receipt"])
    assert c2b_calls(tz, caller_id) == 1
    assert wait_for(lambda: tz.events(accepted["transaction_id"])) == ["payment.succeeded"]


def test_an_ins9_is_resolved_by_query_without_a_second_prompt(tz, handlers):
    code, accepted = push(handlers, tz_body(PAYS_LATE))  # INS-9 after the prompt timeout, then pays
    assert code == 202, accepted
    caller_id = accepted["third_party_conversation_id"]
    payment = final(handlers, accepted["transaction_id"])
    assert (payment["status"], payment["settled_by"], payment["result_code"]) == ("SUCCESS", "query", "Completed")
    assert "OUTCOME_UNKNOWN_AT_INITIATION" in payment["flags"]
    (paid,) = tz.openapi.transactions(third_party_conversation_id=caller_id)
    assert payment["receipt"] == paid["transaction_id"]
    assert paid["response_code"] == "INS-9"  # what the prompt itself was answered
    assert c2b_calls(tz, caller_id) == 1  # one prompt, ever
    queries = tz.openapi.calls(operation="query")
    assert queries
    assert all(c["third_party_conversation_id"] != caller_id for c in queries)  # each query has its own ID


def test_a_prompt_nobody_answers_ends_timed_out_by_query(tz, handlers):
    code, accepted = push(handlers, tz_body(NEVER_ANSWERS))
    assert code == 202, accepted
    payment = final(handlers, accepted["transaction_id"])
    assert (payment["status"], payment["result_code"], payment["retryable"]) == ("TIMEOUT", "Expired", True)
    assert c2b_calls(tz, accepted["third_party_conversation_id"]) == 1
    assert wait_for(lambda: tz.events(accepted["transaction_id"])) == ["payment.timed_out"]


def test_a_person_pays_at_the_phone_while_the_task_waits(tz, handlers):
    code, accepted = push(handlers, tz_body(PERSON))
    assert code == 202, accepted
    (prompt,) = wait_for(lambda: tz.openapi.prompts(PERSON))
    assert prompt["provider"] == "openapi"
    assert tz.openapi.accept(prompt["checkout_request_id"])["result_code"] == "INS-0"
    assert final(handlers, accepted["transaction_id"])["status"] == "SUCCESS"


def test_the_same_key_answers_as_first_and_prompts_once(tz, handlers):
    first = push(handlers, tz_body(), key="tz-replay-key-1")
    again = push(handlers, tz_body(), key="tz-replay-key-1")
    assert again == first
    final(handlers, first[1]["transaction_id"])
    assert c2b_calls(tz, first[1]["third_party_conversation_id"]) == 1
    assert push(handlers, tz_body(amount="1600"), key="tz-replay-key-1")[0] == 409


def test_a_ugandan_payment_is_refused_naming_country_and_nothing_is_recorded(tz, handlers):
    code, answer = push(handlers, body_for(phone="0772123456", amount="1000", country="UG"))
    assert code == 422, answer
    assert answer["fields"][0]["field"] == "country"
    assert "no M-Pesa operator publishes an API in Uganda" in answer["message"]
    assert tz.openapi.calls() == []


# --- the prompt task alone (no state machine): each INS code, and at most once -----------------------


def recorded(key: str, phone: str = PAYS, amount: int = 1500) -> tuple[StkPayments, str]:
    """A recorded Tanzanian payment whose prompt flow is recorded, not run: the test runs the task."""
    payments = StkPayments(replace(runtime.stk_payments().deps, prompt_flow=RecordingStarter()))
    payments.initiate(StkPaymentRequest("TZ", phone, amount, "ORDER1", "Test"), request_key=key)
    return payments, transaction_id_for(key)


def _refused_by_fault(status_code: int) -> Any:
    def setup(simulator: SimulatorServer, tz: Tanzania) -> None:
        tz.openapi.fault(C2B, "status", status=status_code)

    return setup


def _session(**changes: Any) -> Any:
    def setup(simulator: SimulatorServer, tz: Tanzania) -> None:
        simulator.configure(**changes)

    return setup


def _nothing(simulator: SimulatorServer, tz: Tanzania) -> None:
    return None


# code -> (phone, amount, how to make the simulator answer it, the record's status; None = still open)
PROMPT_CODES: dict[str, tuple[str, int, Any, Status | None]] = {
    "INS-0": (PAYS, 1500, _nothing, Status.SUCCESS),
    "INS-1": (PAYS, 1500, _refused_by_fault(500), None),
    "INS-5": (CANCELS, 1500, _nothing, Status.CANCELLED),
    "INS-6": (WRONG_PIN, 1500, _nothing, Status.FAILED),
    "INS-9": (NEVER_ANSWERS, 1500, _nothing, None),
    "INS-15": (PAYS, 6_000_000, _nothing, Status.FAILED),  # within Tanzania's limits, above the sandbox's
    "INS-16": (PAYS, 1500, _refused_by_fault(503), Status.FAILED),
    "INS-21": (PAYS, 1500, _refused_by_fault(400), Status.FAILED),
    "INS-26": (PAYS, 1500, _session(openapi_session_activation_delay_s=60), Status.FAILED),
    "INS-989": (PAYS, 1500, _session(openapi_allowed_origin="https://pinned.example"), Status.FAILED),
    "INS-2006": (NO_FUNDS, 1500, _nothing, Status.FAILED),
    "INS-2051": (UNREGISTERED, 1500, _nothing, Status.FAILED),
}


@pytest.mark.parametrize("code", sorted(PROMPT_CODES))
def test_each_ins_code_settles_the_record_as_the_outcome_table_says(tz, simulator, code):
    phone, amount, setup, expected = PROMPT_CODES[code]
    payments, transaction_id = recorded(f"tz-code-{code}", phone, amount)
    setup(simulator, tz)
    step = payments.run_prompt(transaction_id, deadline=Deadline.within(20))
    record = payments.deps.store.get(transaction_id)
    if expected is None:  # unknown: never final on its code, the query decides
        assert (step.settled, record.status) == (False, Status.PENDING)
        assert Flag.OUTCOME_UNKNOWN_AT_INITIATION.value in record.flags
    else:
        assert (step.settled, record.status, record.result_code) == (True, expected, code)
    # At most one transaction at Vodacom (an INS-26 is re-sent once with a new session: refused unprocessed).
    assert len(tz.openapi.transactions(third_party_conversation_id=record.ref(Ref.THIRD_PARTY_CONVERSATION_ID))) <= 1


def test_a_duplicate_conversation_id_is_unknown_and_the_query_finds_the_first(tz):
    payments, transaction_id = recorded("tz-duplicate")
    caller_id = str(payments.deps.store.get(transaction_id).ref(Ref.THIRD_PARTY_CONVERSATION_ID))
    runtime.openapi().b2c_payment(  # the ID used before (INS-10 from now on)
        customer_msisdn=PAYS,
        amount=100,
        transaction_reference="OTHER",
        payment_items_desc="Other",
        third_party_conversation_id=caller_id,
    )
    step = payments.run_prompt(transaction_id, deadline=Deadline.within(20))
    assert (step.status, step.settled) == (Status.PENDING, False)
    payments.resolve(transaction_id, 0, 3)
    assert payments.deps.store.get(transaction_id).status is Status.SUCCESS  # what the first request did
    assert tz.openapi.call_counts()[caller_id] == {"b2c": 1, "c2b": 1}


def test_the_prompt_task_sends_once_when_run_twice_at_once(tz, handlers):
    payments, transaction_id = recorded("tz-at-most-once", PERSON)
    results: list[dict[str, Any]] = []

    def task() -> None:
        results.append(handlers["prompt_task"]({"transaction_id": transaction_id}, Context()))

    first = threading.Thread(target=task)
    first.start()
    (prompt,) = wait_for(lambda: tz.openapi.prompts(PERSON))
    task()  # Step Functions retried it, or it was re-run by hand, while the first waits for the customer
    assert results == [{"settled": False, "status": "PENDING"}]
    tz.openapi.accept(prompt["checkout_request_id"])
    first.join(10)
    assert results[1] == {"settled": True, "status": "SUCCESS"}
    record = payments.deps.store.get(transaction_id)
    assert tz.openapi.call_counts()[str(record.ref(Ref.THIRD_PARTY_CONVERSATION_ID))] == {"c2b": 1}
    task()  # and once more, after the answer: nothing to do
    assert results[2] == {"settled": True, "status": "SUCCESS"}
    assert len(tz.openapi.calls(operation="c2b")) == 1


def test_the_status_and_the_on_demand_query_work_for_a_tanzanian_record(tz, handlers):
    payments, transaction_id = recorded("tz-query", PAYS_LATE)
    payments.run_prompt(transaction_id, deadline=Deadline.within(20))  # INS-9: still open
    code, shown = status(handlers, transaction_id)
    assert (code, shown["status"], shown["country"]) == (200, "PENDING", "TZ")
    answered = wait_for(lambda: (r := query(handlers, transaction_id)[1])["status"] == "SUCCESS" and r)
    assert answered["query"]["result_code"] == "Completed"
    assert answered["settled_by"] == "query"


def test_the_sweep_resolves_a_stuck_tanzanian_record_through_the_provider(tz):
    payments, transaction_id = recorded("tz-sweep", PAYS_LATE)
    payments.run_prompt(transaction_id, deadline=Deadline.within(20))
    payments.mark_unknown(transaction_id, "the flow gave up")
    caller_id = str(payments.deps.store.get(transaction_id).ref(Ref.THIRD_PARTY_CONVERSATION_ID))
    assert wait_for(lambda: tz.openapi.transactions(third_party_conversation_id=caller_id)[0]["status"] == "Completed")
    assert runtime.sweep().run(now_utc() + timedelta(days=1)) == {"resolved": 1}
    assert payments.deps.store.get(transaction_id).status is Status.SUCCESS
    assert len(tz.openapi.calls(operation="c2b")) == 1


def test_the_prompt_flow_takes_the_query_path_only_when_the_outcome_is_unknown(tz):
    paid_key, late_key = "tz-flow-paid", "tz-flow-late"
    recorded(paid_key)
    recorded(late_key, PAYS_LATE)
    flow_input = runtime.prompt_flow_input
    timing = runtime.flow_timing()
    paid = run_to_end(tz.prompt_flow, flow_input(transaction_id_for(paid_key), timing), name="paid")
    assert paid["description"]["status"] == "SUCCEEDED"
    assert states_entered(paid["history"]) == ["Prompt", "Answered?", "Done"]
    late = run_to_end(tz.prompt_flow, flow_input(transaction_id_for(late_key), timing), name="late")
    assert late["description"]["status"] == "SUCCEEDED"
    entered = states_entered(late["history"])
    assert entered[:4] == ["Prompt", "Answered?", "WaitBeforeQuery", "Resolve"]
    assert entered[-2:] == ["Settled?", "Done"]
    assert runtime.store().get(transaction_id_for(late_key)).status is Status.SUCCESS
    assert len(tz.openapi.calls(operation="c2b")) == 2  # one per payment
