"""The C2B routes' edges: forged and malformed webhooks, the listing and expected-payment APIs."""

import json
from datetime import timedelta

import pytest

from mpesa import runtime
from mpesa.clock import now_utc
from tests.support.apigw import call_route
from tests.support.c2b import SHORT_CODE, c2b_payload, deliver


def items():
    return runtime.c2b_store()._table.scan()["Items"]


def payments():
    return [i for i in items() if i.get("record_type") == "c2b_payment"]


def listing(handlers, **query):
    return call_route(handlers["c2b_transactions"], "GET", "/v1/c2b/transactions", query=query)


@pytest.mark.parametrize("which", ["validation", "confirmation"])
@pytest.mark.parametrize(
    ("secret", "short_code", "source_ip"),
    [
        ("0" * 32, SHORT_CODE, "127.0.0.1"),  # a guessed secret
        ("not-hex", SHORT_CODE, "127.0.0.1"),
        (None, "600997", "127.0.0.1"),  # the secret of another shortcode (see below)
    ],
)
def test_a_forged_webhook_is_refused_and_nothing_is_written(stack, handlers, which, secret, short_code, source_ip):
    if secret is None:  # the right secret for 174379, presented on 600997's URL
        from mpesa.edge.signed_urls import sign

        secret = sign(runtime.settings().callback_secret.get_secret_value(), "c2b", SHORT_CODE)
    code, body = deliver(
        handlers, which, c2b_payload(short_code=short_code), short_code=short_code, secret=secret, source_ip=source_ip
    )
    assert (code, body["error"]) == (403, "forbidden")
    assert items() == []
    assert stack.drain() == []


def test_a_confirmation_from_an_unlisted_source_is_refused_but_kept_for_review(stack, handlers):
    code, _ = deliver(handlers, "confirmation", c2b_payload(), source_ip="203.0.113.9")
    assert code == 403
    assert payments() == []
    [kept] = items()
    assert (kept["record_type"], kept["reason"], kept["source_ip"]) == (
        "unmatched_c2b",
        "signed URL but source IP not allowed",
        "203.0.113.9",
    )
    assert json.loads(kept["body"])["TransID"] == "TKQ4AB7XYZ"
    assert stack.drain() == []


def test_a_validation_from_an_unlisted_source_is_refused(stack, handlers):
    assert deliver(handlers, "validation", c2b_payload(), source_ip="203.0.113.9")[0] == 403
    assert items() == []


BAD_BODIES = [
    "not json",
    "[]",
    json.dumps({"TransID": "TKQ4AB7XYZ"}),
    json.dumps(c2b_payload(amount="10.50")),
    json.dumps(c2b_payload(amount="-5")),
    json.dumps(c2b_payload(trans_id="abc/../1")),
    json.dumps(c2b_payload(trans_time="26/11/2026")),
    json.dumps({**c2b_payload(), "TransAmount": {"value": 1}}),
]


@pytest.mark.parametrize("raw", BAD_BODIES)
def test_a_bad_validation_body_gets_4xx_and_nothing_is_written(stack, handlers, raw):
    code, body = deliver(handlers, "validation", raw)
    assert 400 <= code < 500
    assert "Traceback" not in json.dumps(body)
    assert items() == []


@pytest.mark.parametrize("raw", BAD_BODIES)
def test_a_bad_confirmation_body_gets_4xx_and_no_payment_is_written(stack, handlers, raw):
    code, body = deliver(handlers, "confirmation", raw)
    assert 400 <= code < 500
    assert "Traceback" not in json.dumps(body)
    assert payments() == []
    assert [i["record_type"] for i in items()] == ["unmatched_c2b"]  # on our URL: kept for review
    assert stack.drain() == []


def test_oversized_or_mistyped_bodies_are_refused_before_reading(stack, handlers):
    huge = json.dumps({**c2b_payload(), "FirstName": "x" * 70_000})  # over the webhooks' 64 KiB
    assert deliver(handlers, "confirmation", huge)[0] == 413
    assert deliver(handlers, "validation", huge)[0] == 413
    text = {"Content-Type": "text/plain"}
    assert deliver(handlers, "validation", json.dumps(c2b_payload()), headers=text)[0] == 415
    assert items() == []


def test_a_confirmation_answers_daraja_and_a_replay_answers_the_same(stack, handlers):
    first = deliver(handlers, "confirmation", c2b_payload())
    again = deliver(handlers, "confirmation", c2b_payload())
    assert first == again == (200, {"ResultCode": 0, "ResultDesc": "Accepted"})
    assert len(payments()) == 1


def test_the_listing_pages_newest_first_and_shows_no_full_number(stack, handlers):
    for number in range(5):
        payload = c2b_payload(f"TKQ4AB7XL{number}", trans_time=f"202611261{number}0000", msisdn="254708374149")
        assert deliver(handlers, "confirmation", payload)[0] == 200
    seen, cursor = [], None
    while True:
        query = {"from": "2026-11-26", "to": "2026-11-26", "limit": "2", **({"next": cursor} if cursor else {})}
        code, page = listing(handlers, **query)
        assert code == 200
        seen.extend(item["trans_id"] for item in page["items"])
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [f"TKQ4AB7XL{n}" for n in reversed(range(5))]
    code, page = listing(handlers, **{"from": "2026-11-26", "to": "2026-11-26"})
    assert page["items"][0] == {
        "trans_id": "TKQ4AB7XL4",
        "amount": 150,
        "currency": "KES",
        "account_reference": "INV001",
        "short_code": SHORT_CODE,
        "phone": "2547******49",
        "paid_at": "2026-11-26T11:00:00.000Z",
        "counted": True,
        "match": None,
        "flags": [],
    }
    assert "254708374149" not in json.dumps(page)
    route = "/v1/c2b/transactions/{trans_id}"
    code, one = call_route(handlers["c2b_transactions"], "GET", "/v1/c2b/transactions/TKQ4AB7XL4", route=route)
    assert (code, one["phone"], one["payer_name"]) == (200, "2547******49", "John Doe")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "26-11-2026"}, "from"),
        ({"to": "2026-11-26T10:00:00"}, "to"),
        ({"from": "2026-01-01", "to": "2026-03-01"}, "from"),
        ({"limit": "500"}, "limit"),
        ({"sort": "asc"}, "sort"),
        ({"next": "eyJxIjpbXX0"}, "next"),
    ],
)
def test_a_bad_listing_parameter_is_a_422_naming_it(stack, handlers, query, field):
    code, body = listing(handlers, **query)
    assert (code, body["fields"][0]["field"]) == (422, field)


@pytest.mark.parametrize("trans_id", ["TKQ4AB7XYZ", "tkq4ab7xyz", "TKQ4AB7XY"])
def test_an_unknown_or_malformed_trans_id_is_4xx(stack, handlers, trans_id):
    route = "/v1/c2b/transactions/{trans_id}"
    code, _ = call_route(handlers["c2b_transactions"], "GET", f"/v1/c2b/transactions/{trans_id}", route=route)
    assert code == (404 if trans_id == "TKQ4AB7XYZ" else 422)


def test_expected_payments_are_created_once_and_conflicts_named(stack, handlers):
    month = (now_utc() + timedelta(days=30)).isoformat()
    body = {"account_reference": "INV-9", "amount": "500", "expires_at": month}
    post = lambda b: call_route(handlers["c2b_expected"], "POST", "/v1/c2b/expected", body=b)  # noqa: E731
    code, _ = post({**body, "expires_at": (now_utc() - timedelta(days=1)).isoformat()})
    assert code == 422
    code, created = post(body)
    assert (code, created["status"], created["amount_min"]) == (201, "open", 500)
    assert post(body)[0] == 200
    code, conflict = post({**body, "amount": "600"})
    assert (code, conflict["error"], conflict["expected_payment"]["amount_min"]) == (409, "reference_taken", 500)
    code, error = post({**body, "unknown": 1})
    assert (code, error["fields"][0]["field"]) == (422, "unknown")
    route = "/v1/c2b/expected/{reference}"
    assert call_route(handlers["c2b_expected"], "GET", "/v1/c2b/expected/NOPE", route=route)[0] == 404
