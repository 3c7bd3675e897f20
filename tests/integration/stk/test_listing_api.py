"""GET /v1/payments through its handler over moto: a Nairobi day's payments, newest first, in the
single-record view with their events, a page at a time; bad parameters are a 422 naming them."""

import json
from datetime import timedelta

import pytest

from mpesa.clock import NAIROBI, now_utc
from tests.support.apigw import call_route
from tests.support.stack import wait_for
from tests.support.stk import body_for, push, settled, status

ROUTE = "/v1/payments"


def listing(handlers, **query):
    return call_route(handlers["payment_status"], "GET", ROUTE, query=query)


def every_page(handlers, **query):
    items, cursor = [], None
    while True:
        code, page = listing(handlers, **query, **({"next": cursor} if cursor else {}))
        assert code == 200, page
        items.extend(page["items"])
        cursor = page["next"]
        if cursor is None:
            return items


def test_a_days_payments_are_listed_newest_first_in_their_status_view(stack, handlers):
    paid = push(handlers, body_for())[1]["transaction_id"]
    failed = push(handlers, body_for(phone="254111111111"))[1]["transaction_id"]
    settled(handlers, paid)
    settled(handlers, failed)
    waiting = push(handlers, body_for(phone="254712345678"))[1]["transaction_id"]  # nobody answers

    code, page = listing(handlers)
    assert code == 200, page
    assert page["date"] == now_utc().astimezone(NAIROBI).date().isoformat()
    assert [p["transaction_id"] for p in page["items"]] == [waiting, failed, paid]
    assert page["next"] is None
    first = {p["transaction_id"]: p for p in page["items"]}[paid]
    assert {k: v for k, v in first.items() if k != "events"} == status(handlers, paid)[1]
    assert first["phone"] == "2547******49"
    assert "254708374149" not in json.dumps(page)
    assert "254712345678" not in json.dumps(page)
    # The event of the record's status, once the outbox marked it published; a pending one owes none.
    assert wait_for(
        lambda: (
            listing(handlers, status="SUCCESS")[1]["items"][0]["events"]
            == [{"type": "payment.succeeded", "event_id": f"{paid}:SUCCESS", "published": True}]
        )
    )
    assert {p["transaction_id"]: p["events"] for p in page["items"]}[waiting] == []

    assert [p["transaction_id"] for p in listing(handlers, status="FAILED")[1]["items"]] == [failed]
    yesterday = (now_utc().astimezone(NAIROBI) - timedelta(days=1)).date().isoformat()
    assert listing(handlers, date=yesterday)[1]["items"] == []


def test_pages_follow_the_cursor_without_repeating_a_payment(stack, handlers):
    ids = [push(handlers, body_for(phone="254712345678", amount=str(10 + n)))[1]["transaction_id"] for n in range(5)]
    code, first = listing(handlers, limit="2")
    assert (code, len(first["items"])) == (200, 2)
    assert first["next"]
    assert [p["transaction_id"] for p in every_page(handlers, limit="2")] == ids[::-1]
    # A cursor belongs to its query: another status (or date) is refused, naming `next`.
    code, refused = listing(handlers, limit="2", status="PENDING", next=first["next"])
    assert (code, refused["fields"][0]["field"]) == (422, "next")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"date": "26-11-2026"}, "date"),
        ({"date": "20261126"}, "date"),
        ({"date": "2026-02-30"}, "date"),
        ({"status": "PAID"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"next": "bm90IGEgY3Vyc29y"}, "next"),
        ({"next": "garbage!"}, "next"),
        ({"from": "2026-11-26"}, "from"),
    ],
)
def test_a_bad_parameter_is_a_422_naming_it(stack, handlers, query, field):
    code, body = listing(handlers, **query)
    assert (code, body["fields"][0]["field"]) == (422, field), body


def test_a_forged_position_in_a_well_formed_cursor_is_refused(stack, handlers):
    from mpesa.records.listing import encode_cursor

    day = now_utc().astimezone(NAIROBI).date().isoformat()
    for position in ({"0": "not a key"}, {"12": "end"}):
        code, body = listing(handlers, date=day, next=encode_cursor(position, ["stk", day, ""]))
        assert (code, body["fields"][0]["field"]) == (422, "next"), body
