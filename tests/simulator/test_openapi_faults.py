"""The fault queue on OpenAPI paths: status answers in the INS shape, slow answers, malformed bodies,
dropped connections, and how a client resolves the unknown outcome without a second money call."""

from __future__ import annotations

import pytest
import requests

from tests.support.daraja_wire import wait_until
from tests.support.openapi_wire import PERSON, OpenApi, assert_ins

C2B = "/sandbox/ipg/v2/vodacomTZN/c2bPayment/singleStage/"
B2C = "/sandbox/ipg/v2/vodacomTZN/b2cPayment/"
SESSION = "/sandbox/ipg/v2/vodacomTZN/getSession/"


def add_fault(openapi: OpenApi, **spec: object) -> None:
    assert openapi.control("POST", "/faults", spec).status_code == 201


@pytest.mark.parametrize(
    ("status", "code"),
    [(503, "INS-16"), (500, "INS-1"), (408, "INS-9"), (401, "INS-26"), (502, "INS-1"), (429, "INS-21")],
)
def test_status_faults_answer_in_the_ins_shape_without_processing(openapi: OpenApi, status: int, code: str) -> None:
    openapi.session_id()
    add_fault(openapi, path=C2B, kind="status", status=status)
    answer = assert_ins(openapi.c2b(openapi.c2b_body(PERSON)), code, status)
    assert (answer["output_ConversationID"], answer["output_TransactionID"]) == ("", "")
    assert openapi.transactions() == []
    assert openapi.prompts(PERSON) == []
    assert [e["status"] for e in openapi.control("GET", f"/requests?path={C2B}").json()] == [status]


def test_a_status_fault_on_get_session_has_the_session_shape(openapi: OpenApi) -> None:
    add_fault(openapi, path=SESSION, kind="status", status=503)
    response = openapi.get_session()
    assert response.status_code == 503
    assert response.json() == {
        "output_ResponseCode": "INS-16",
        "output_ResponseDesc": "Unable to handle the request due to a temporary overloading",
    }
    assert openapi.get_session().status_code == 200  # one occurrence only


def test_a_status_fault_with_its_own_body(openapi: OpenApi) -> None:
    openapi.session_id()
    add_fault(openapi, path=B2C, kind="status", status=504, body="upstream timed out")
    response = openapi.b2c()
    assert (response.status_code, response.text) == (504, "upstream timed out")
    assert openapi.balance() == "10000000"


def test_a_slow_payout_took_effect_and_is_resolved_by_query_not_resent(openapi: OpenApi) -> None:
    openapi.session_id()
    add_fault(openapi, path=B2C, kind="slow", delay_s=1.0)
    body = openapi.b2c_body(amount="2000")
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(openapi.url("b2cPayment/"), json=body, headers=openapi.headers(), timeout=(2, 0.2))
    caller = body["input_ThirdPartyConversationID"]
    assert openapi.status_of(caller) == "Completed"
    assert openapi.balance() == "9998000"
    counts = openapi.control("GET", "/openapi/call-counts").json()
    assert counts[caller] == {"b2c": 1}  # the client queried with its own caller ID: no second payout call


def test_a_resent_payout_after_a_timeout_cannot_pay_twice(openapi: OpenApi) -> None:
    openapi.session_id()
    add_fault(openapi, path=B2C, kind="slow", delay_s=1.0)
    body = openapi.b2c_body(amount="2000")
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(openapi.url("b2cPayment/"), json=body, headers=openapi.headers(), timeout=(2, 0.2))
    assert_ins(openapi.b2c(body), "INS-10", 409)
    assert openapi.balance() == "9998000"


def test_disconnect_before_processing_does_nothing(openapi: OpenApi) -> None:
    openapi.session_id()
    add_fault(openapi, path=C2B, kind="disconnect")
    with pytest.raises(requests.exceptions.ConnectionError):
        openapi.c2b()
    # The server logs the request just after dropping the socket: wait for the entry.
    wait_until(lambda: [e["status"] for e in openapi.control("GET", f"/requests?path={C2B}").json()] == [None])
    assert openapi.transactions() == []


def test_disconnect_after_processing_leaves_a_completed_payment(openapi: OpenApi) -> None:
    openapi.session_id()
    add_fault(openapi, path=C2B, kind="disconnect", after_processing=True)
    body = openapi.c2b_body()
    with pytest.raises(requests.exceptions.ConnectionError):
        openapi.c2b(body)
    assert openapi.status_of(body["input_ThirdPartyConversationID"]) == "Completed"


def test_malformed_answers(openapi: OpenApi) -> None:
    openapi.session_id()
    add_fault(openapi, path=B2C, kind="malformed")
    add_fault(openapi, path=B2C, kind="malformed", after_processing=True)
    first, second = openapi.b2c_body(), openapi.b2c_body()
    for body in (first, second):
        response = openapi.b2c(body)
        assert response.status_code == 200
        with pytest.raises(requests.exceptions.JSONDecodeError):
            response.json()
    assert_ins(openapi.query(first["input_ThirdPartyConversationID"]), "INS-18", 400)  # never processed
    assert openapi.status_of(second["input_ThirdPartyConversationID"]) == "Completed"


def test_a_wildcard_fault_hits_openapi_paths_too(openapi: OpenApi) -> None:
    add_fault(openapi, path="*", kind="status", status=500)
    response = openapi.get_session()
    assert response.json()["output_ResponseCode"] == "INS-1"
    assert openapi.get_session().status_code == 200
