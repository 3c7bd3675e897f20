"""Property tests of every STK handler's edge, on moto: whatever bytes or JSON arrive, the answer is a
4xx (a 200 acknowledgement for a readable callback), never a 5xx, no stack trace, and nothing is
written for a body that is refused."""

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.apigw import Context, http_event
from tests.support.stk import GUIDE_ROUTE, SIGNED_ROUTE, transactions

EDGE = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=15), children, max_size=4),
    max_leaves=20,
)
bodies = st.one_of(
    st.binary(max_size=600),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.sampled_from([b"1e1000000", b'{"amount": 1e1000000}', b"[" * 5000, b'"\\ud800"', b"\xff\xfe"]),
)


def send(handler, method, path, route, body: bytes, headers=None, base64_body=False):
    event = http_event(method, path, route=route, headers=headers or {"Content-Type": "application/json"})
    event["body"] = base64.b64encode(body).decode() if base64_body else body.decode("utf-8", "surrogateescape")
    event["isBase64Encoded"] = base64_body
    response = handler(event, Context())
    return response["statusCode"], response.get("body") or ""


@pytest.mark.timeout(120)
@EDGE
@given(bodies, st.booleans())
def test_the_payment_api_answers_4xx_to_any_body_and_writes_nothing(stack, handlers, body, base64_body):
    status, text = send(
        handlers["stk_push"],
        "POST",
        "/v1/payments/stk-push",
        None,
        body,
        {"Content-Type": "application/json", "Idempotency-Key": "property-key-1"},
        base64_body,
    )
    assert 400 <= status < 500, text
    assert "Traceback" not in text
    assert transactions() == []


@pytest.mark.timeout(120)
@EDGE
@given(bodies, st.booleans(), st.sampled_from(["guide", "default", "signed-bad"]))
def test_the_callback_routes_never_answer_5xx(stack, handlers, body, base64_body, route):
    path, template = {
        "guide": (GUIDE_ROUTE, GUIDE_ROUTE),
        "default": ("/v1/hooks/stk", "/v1/hooks/stk"),
        "signed-bad": ("/v1/hooks/stk/" + "a" * 32 + "/" + "b" * 32, SIGNED_ROUTE),
    }[route]
    status, text = send(handlers["stk_callback"], "POST", path, template, body, base64_body=base64_body)
    assert status < 500, text
    assert "Traceback" not in text
    if status >= 400:
        assert [i for i in transactions() if i["record_type"] != "inbox_rate"] == []


@pytest.mark.timeout(120)
@EDGE
@given(st.text(max_size=80))
def test_the_status_routes_answer_4xx_to_any_identifier(stack, handlers, identifier):
    safe = identifier.replace("/", "").encode("utf-8", "surrogateescape").decode("utf-8", "replace") or "x"
    for method, suffix in (("GET", ""), ("POST", "/query")):
        route = "/v1/payments/{transaction_id}" + suffix
        event = http_event(method, f"/v1/payments/{safe}{suffix}", route=route)
        event["pathParameters"] = {"transaction_id": safe}
        response = handlers["payment_status"](event, Context())
        assert 400 <= response["statusCode"] < 500
