"""Concurrent requests to the local stack: each invocation has its own Lambda context and deadline."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.e2e.conftest import Stack, unique_msisdn
from tests.local.process import http, wait_for

pytestmark = pytest.mark.e2e

PUSHES = 16


def test_concurrent_pushes_while_other_functions_are_busy_each_get_their_own_deadline(fresh: Stack) -> None:
    # While the pushes run, customers answer earlier prompts (StkCallbackFunction, Timeout 10 s, runs
    # for each callback) and PaymentStatusFunction is busy on an STK query the simulator answers 3 s
    # late. When every handler ran in one process, a push could take its deadline from another
    # function's Lambda context (Powertools keeps the current one in a class attribute): from a
    # callback's 10 s, too little to send a push, so it answered 503 "M-Pesa could not be reached".
    status, first = fresh.push(unique_msisdn())
    assert status == 202, first
    waiting = [fresh.push(unique_msisdn())[1]["checkout_request_id"] for _ in range(PUSHES)]
    query_path = "/mpesa/stkpushquery/v1/query"
    fault = {"path": query_path, "kind": "slow", "delay_s": 3, "count": 1}
    assert http("POST", f"{fresh.simulator}/simulator/faults", fault)[0] == 201
    results: dict[str, tuple[int, Any]] = {}

    def query() -> None:
        results["query"] = http("POST", f"{fresh.api}/v1/payments/{first['transaction_id']}/query", timeout=30)

    def push(index: int) -> None:
        results[f"push{index}"] = fresh.push(unique_msisdn())

    def poll(index: int) -> None:
        results[f"poll{index}"] = http("GET", f"{fresh.api}/v1/payments/{first['transaction_id']}")

    def answer(checkout_request_id: str) -> None:
        accept = f"{fresh.simulator}/simulator/prompts/{checkout_request_id}/accept"
        results[f"answer-{checkout_request_id}"] = http("POST", accept, {"pin": "1234"})

    busy = threading.Thread(target=query)
    busy.start()
    wait_for(lambda: fresh.simulator_get(f"/simulator/requests?path={query_path}"), 10, 0.05, message="the query")
    pushes = [threading.Thread(target=push, args=(index,)) for index in range(PUSHES)]
    answers = [threading.Thread(target=answer, args=(checkout,)) for checkout in waiting]
    threads = [thread for pair in zip(pushes, answers, strict=True) for thread in pair]  # interleaved
    threads += [threading.Thread(target=poll, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in [*threads, busy]:
        thread.join(timeout=60)
    answered_pushes = [results[f"push{index}"] for index in range(PUSHES)]
    statuses = [status for status, _ in answered_pushes]
    assert statuses == [202] * PUSHES, [body for status, body in answered_pushes if status != 202]
    assert all(body["checkout_request_id"] for _, body in answered_pushes)
    assert all(results[f"poll{index}"][0] == 200 for index in range(4))
    assert all(results[f"answer-{checkout}"][0] == 200 for checkout in waiting)
    status, answered = results["query"]
    assert status == 200, answered
    assert answered["transaction_id"] == first["transaction_id"]
