"""callback_mode: drop, duplicate, out_of_order."""

from __future__ import annotations

from typing import Any

from tests.support.daraja_wire import SUCCESS_NUMBER, Daraja, wait_until
from tests.support.receiver import CallbackReceiver


def checkout_ids(receiver: CallbackReceiver, count: int) -> list[str]:
    return [r.body["Body"]["stkCallback"]["CheckoutRequestID"] for r in receiver.wait("/stk", count=count)]


def logged(daraja: Daraja, count: int) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = wait_until(
        lambda: (e := daraja.control("GET", "/callbacks").json()) and len(e) >= count and e
    )
    return entries


def test_drop_records_but_does_not_deliver(daraja: Daraja, receiver: CallbackReceiver) -> None:
    daraja.control("PATCH", "/config", {"callback_mode": "drop"})
    checkout = daraja.stk_push(SUCCESS_NUMBER)["CheckoutRequestID"]
    entry = logged(daraja, 1)[0]
    assert entry["delivered"] is False
    assert entry["kind"] == "stk"
    assert entry["error"] == "dropped (callback_mode=drop)"
    assert entry["payload"]["Body"]["stkCallback"]["CheckoutRequestID"] == checkout
    # The transaction still happened: the query knows the final result.
    assert daraja.stk_query(checkout).json()["ResultCode"] == "0"
    assert receiver.records("/stk") == []


def test_duplicate_delivers_the_same_callback_n_times(daraja: Daraja, receiver: CallbackReceiver) -> None:
    daraja.control("PATCH", "/config", {"callback_mode": "duplicate", "duplicate_count": 3})
    checkout = daraja.stk_push(SUCCESS_NUMBER)["CheckoutRequestID"]
    received = receiver.wait("/stk", count=3)
    assert {r.raw for r in received} == {received[0].raw}
    assert received[0].body["Body"]["stkCallback"]["CheckoutRequestID"] == checkout
    assert all(e["delivered"] and e["response_status"] == 200 for e in logged(daraja, 3))


def test_out_of_order_swaps_pairs(daraja: Daraja, receiver: CallbackReceiver) -> None:
    daraja.control("PATCH", "/config", {"callback_mode": "out_of_order", "out_of_order_max_hold_s": 5})
    first = daraja.stk_push("254712345601")["CheckoutRequestID"]
    second = daraja.stk_push("254712345602")["CheckoutRequestID"]
    daraja.control("POST", f"/prompts/{first}/accept", {"pin": "1234"})
    daraja.control("POST", f"/prompts/{second}/cancel")
    assert checkout_ids(receiver, 2) == [second, first]


def test_out_of_order_releases_a_lonely_callback(daraja: Daraja, receiver: CallbackReceiver) -> None:
    daraja.control("PATCH", "/config", {"callback_mode": "out_of_order", "out_of_order_max_hold_s": 0.1})
    checkout = daraja.stk_push(SUCCESS_NUMBER)["CheckoutRequestID"]
    assert checkout_ids(receiver, 1) == [checkout]


def test_unreachable_callback_url_is_logged(daraja: Daraja) -> None:
    daraja.stk_push(SUCCESS_NUMBER, CallBackURL="http://127.0.0.1:9/hooks/stk")
    entry = logged(daraja, 1)[0]
    assert entry["delivered"] is False
    assert entry["response_status"] is None
    assert entry["error"]
