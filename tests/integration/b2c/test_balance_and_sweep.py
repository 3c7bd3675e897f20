"""Account balance through its webhook, and the sweep as the safety net behind the payout timeout flow."""

from datetime import timedelta
from decimal import Decimal

from mpesa import runtime
from mpesa.clock import now_utc
from tests.support.apigw import call, http_event
from tests.support.b2c import BALANCE_PATH, STATUS_PATH, events_of, paid, pay, payout, payout_body, payout_requests
from tests.support.stack import control, simulator_requests, wait_for


def ask_balance(handlers, body=None):
    return call(handlers["account_balance"], http_event("POST", "/v1/balance", body=body))


def balances(handlers):
    return call(handlers["account_balance"], http_event("GET", "/v1/balance"))


def test_a_balance_request_stores_the_latest_balances_with_their_age(stack, handlers, simulator):
    code, body = balances(handlers)
    assert code == 200
    assert body["balances"][0] == {"short_code": "600996", "accounts": [], "reported_at": None, "age_seconds": None}
    code, asked = ask_balance(handlers)
    assert code == 202, asked
    assert (asked["short_code"], asked["conversation_id"][:3]) == ("600996", "AG_")
    shown = wait_for(lambda: balances(handlers)[1]["balances"][0]["accounts"] and balances(handlers)[1])
    first = shown["balances"][0]
    utility = next(a for a in first["accounts"] if a["name"] == "Utility Account")
    simulated = control(simulator, "GET", "balances")
    assert Decimal(utility["available"]) == Decimal(str(simulated["utility"]))
    assert first["age_seconds"] is not None
    assert first["age_seconds"] < 60
    (request,) = simulator_requests(simulator, BALANCE_PATH)
    assert request["body"]["PartyA"] == "600996"
    assert "/v1/hooks/balance/result/" in request["body"]["ResultURL"]


def test_a_balance_request_for_another_shortcode_is_refused(stack, handlers):
    code, refused = ask_balance(handlers, {"short_code": "999999"})
    assert code == 422
    assert refused["fields"][0]["field"] == "short_code"
    assert ask_balance(handlers, {"short_code": "12"})[0] == 422
    assert ask_balance(handlers, {"shortcode": "600996"})[0] == 422
    assert ask_balance(handlers, {"short_code": "600996"})[0] == 202


def test_a_balance_result_on_the_default_route_needs_a_conversation_id_we_asked_for(stack, handlers, simulator):
    simulator.configure(callback_mode="drop")
    code, asked = ask_balance(handlers)
    (dropped,) = wait_for(lambda: control(simulator, "GET", "callbacks?kind=balance_result"))
    stranger = {"Result": {**dropped["payload"]["Result"], "ConversationID": "AG_not_ours"}}
    route = "/v1/hooks/balance/result"
    assert call(handlers["balance_callback"], http_event("POST", route, body=stranger))[0] == 200
    assert balances(handlers)[1]["balances"][0]["accounts"] == []
    assert call(handlers["balance_callback"], http_event("POST", route, body=dropped["payload"]))[0] == 200
    assert balances(handlers)[1]["balances"][0]["accounts"]
    refused = http_event("POST", route, body=dropped["payload"], source_ip="203.0.113.9")
    assert call(handlers["balance_callback"], refused)[0] == 403


def test_the_sweep_resolves_a_payout_whose_flow_never_ran_without_paying_twice(stack, handlers, simulator):
    simulator.configure(callback_mode="drop")
    code, accepted = pay(handlers, payout_body())
    payout_id = accepted["payout_id"]
    wait_for(lambda: control(simulator, "GET", "callbacks?kind=b2c_result"))  # the Result is lost
    simulator.configure(callback_mode="normal")
    checked = now_utc() + timedelta(seconds=runtime.payout_timing().result_wait_seconds + 1)
    assert runtime.sweep().run(checked) == {"watched": 1}  # still pending: no flow here, the sweep watches
    counts = runtime.sweep().run(now_utc() + timedelta(hours=1))
    assert counts["status_asked"] == 1
    assert counts["marked_unknown"] == 1
    done = wait_for(lambda: (p := payout(handlers, payout_id)[1])["status"] == "SUCCESS" and p)
    assert done["settled_by"] == "query"
    assert len(simulator_requests(simulator, STATUS_PATH)) == 1
    assert len(payout_requests(simulator)) == 1
    assert len(paid(simulator)) == 1
    expected = ["payout.outcome_unknown", "payout.succeeded"]
    assert wait_for(lambda: (seen := events_of(stack, payout_id)) == expected and seen) == expected


def test_a_result_on_the_default_route_is_confirmed_by_the_sweep_not_applied(stack, handlers, simulator):
    simulator.configure(callback_mode="drop")
    code, accepted = pay(handlers, payout_body())
    (dropped,) = wait_for(lambda: control(simulator, "GET", "callbacks?kind=b2c_result"))
    simulator.configure(callback_mode="normal")
    event = http_event("POST", "/v1/hooks/b2c/result", body=dropped["payload"])
    assert call(handlers["b2c_result"], event)[0] == 200
    assert payout(handlers, accepted["payout_id"])[1]["status"] == "PENDING"  # not applied by itself
    counts = runtime.sweep().run(now_utc() + timedelta(seconds=1))
    assert counts["status_asked"] == 1  # it came due at once
    done = wait_for(lambda: (p := payout(handlers, accepted["payout_id"])[1])["status"] == "SUCCESS" and p)
    assert done["settled_by"] == "query"
