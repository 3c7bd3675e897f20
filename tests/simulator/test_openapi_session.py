"""OpenAPI session-key flow: the published key, getSession, bearers per call, expiry, routing."""

from __future__ import annotations

import base64

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from simulator import SimulatorServer
from tests.support.daraja_wire import wait_until
from tests.support.openapi_wire import API_KEY, OpenApi, assert_ins, caller_id, encrypt


def test_public_key_is_the_portals_base64_der_subject_public_key_info(openapi: OpenApi) -> None:
    response = requests.get(f"{openapi.base}/simulator/openapi/public-key", timeout=5)
    assert response.headers["Content-Type"].startswith("text/plain")
    text = response.text
    assert "\n" not in text.strip()
    assert "BEGIN" not in text
    key = load_der_public_key(base64.b64decode(text, validate=True))
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.key_size == 2048
    pem = requests.get(f"{openapi.base}/simulator/openapi/public-key?format=pem", timeout=5).text
    from_pem = serialization.load_pem_public_key(pem.encode())
    assert isinstance(from_pem, rsa.RSAPublicKey)
    assert from_pem.public_numbers() == key.public_numbers()


def test_openapi_key_pair_is_not_the_daraja_key_pair(openapi: OpenApi) -> None:
    certificate = requests.get(f"{openapi.base}/simulator/certificate", timeout=5).text
    daraja_key = x509.load_pem_x509_certificate(certificate.encode()).public_key()
    assert isinstance(daraja_key, rsa.RSAPublicKey)
    assert daraja_key.public_numbers() != openapi.public_key.public_numbers()


def test_get_session_answers_ins0_with_a_session_id(openapi: OpenApi) -> None:
    response = openapi.get_session()
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"output_ResponseCode", "output_ResponseDesc", "output_SessionID"}
    assert body["output_ResponseCode"] == "INS-0"
    assert body["output_ResponseDesc"] == "Request processed successfully"
    assert len(body["output_SessionID"]) == 32


def test_one_session_serves_many_calls_with_a_different_bearer_each_time(openapi: OpenApi) -> None:
    session_id = openapi.session_id()
    first, second = openapi.encrypt(session_id), openapi.encrypt(session_id)
    assert first != second  # PKCS#1 v1.5 is randomised: cache the session ID, not the ciphertext
    for bearer in (first, second):
        response = requests.post(
            openapi.url("c2bPayment/singleStage/"),
            json=openapi.c2b_body(),
            headers={"Authorization": f"Bearer {bearer}", "Origin": "*"},
            timeout=10,
        )
        assert_ins(response, "INS-0", 201)
    calls = openapi.control("GET", "/openapi/calls?operation=session").json()
    assert len(calls) == 1


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Basic c2ltOnNpbQ==", "Bearer ", "Bearer not-base64!!", "Bearer c2ltLW9wZW5hcGktYXBpLWtleQ=="],
    ids=["absent", "empty", "basic", "empty-bearer", "not-base64", "plain-base64-key"],
)
def test_get_session_without_a_valid_encrypted_key_is_ins2(openapi: OpenApi, authorization: str | None) -> None:
    headers = {"Origin": "*"}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = requests.get(openapi.url("getSession/"), headers=headers, timeout=5)
    assert response.status_code == 401
    assert response.json() == {"output_ResponseCode": "INS-2", "output_ResponseDesc": "Invalid API Key"}


def test_get_session_with_the_wrong_api_key_or_another_public_key_is_ins2(openapi: OpenApi) -> None:
    assert openapi.get_session(api_key="not-the-key").json()["output_ResponseCode"] == "INS-2"
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    response = requests.get(
        openapi.url("getSession/"),
        headers={"Authorization": f"Bearer {encrypt(other, API_KEY)}", "Origin": "*"},
        timeout=5,
    )
    assert (response.status_code, response.json()["output_ResponseCode"]) == (401, "INS-2")


def test_get_session_without_origin_is_ins989(openapi: OpenApi) -> None:
    response = openapi.get_session(origin=None)
    assert response.status_code == 400
    assert response.json() == {"output_ResponseCode": "INS-989", "output_ResponseDesc": "Session Creation Failed"}


def test_a_pinned_origin_must_match(openapi: OpenApi) -> None:
    openapi.control("PATCH", "/config", {"openapi_allowed_origin": "https://shop.example"})
    assert openapi.get_session(origin="*").json()["output_ResponseCode"] == "INS-989"
    assert openapi.get_session(origin="https://other.example").json()["output_ResponseCode"] == "INS-989"
    assert openapi.get_session(origin="https://shop.example").json()["output_ResponseCode"] == "INS-0"


def test_an_unknown_market_is_ins998(openapi: OpenApi) -> None:
    response = openapi.get_session(market="vodacomKEN")
    assert response.status_code == 400
    assert response.json() == {"output_ResponseCode": "INS-998", "output_ResponseDesc": "Invalid Market"}
    c2b = requests.post(
        openapi.url("c2bPayment/singleStage/", market="vodafoneGHA"),
        json=openapi.c2b_body(),
        headers=openapi.headers(),
        timeout=5,
    )
    assert_ins(c2b, "INS-998", 400)
    assert openapi.transactions() == []


def test_an_expired_session_is_ins26_and_a_new_one_works(openapi: OpenApi) -> None:
    openapi.control("PATCH", "/config", {"openapi_session_ttl_s": 0.3})
    session_id = openapi.session_id()
    wait_until(lambda: openapi.control("GET", "/openapi/sessions").json() == [], timeout=3)
    body = openapi.c2b_body()
    stale = requests.post(
        openapi.url("c2bPayment/singleStage/"), json=body, headers=openapi.headers(session_id), timeout=5
    )
    echo = assert_ins(stale, "INS-26", 401)
    assert echo["output_ResponseDesc"] == "Not authorised"
    assert echo["output_ThirdPartyConversationID"] == body["input_ThirdPartyConversationID"]
    assert echo["output_TransactionID"] == ""
    assert openapi.transactions() == []  # nothing happened: safe to renew the session and retry
    openapi.forget_session()
    openapi.control("PATCH", "/config", {"openapi_session_ttl_s": 3600})
    assert_ins(openapi.c2b(body), "INS-0", 201)


def test_expiring_every_session_from_the_control_api(openapi: OpenApi) -> None:
    session_id = openapi.session_id()
    assert openapi.control("POST", "/openapi/sessions/expire").json() == {"expired": 1}
    response = requests.get(
        openapi.url("queryTransactionStatus/"),
        params={
            "input_QueryReference": "X",
            "input_ServiceProviderCode": "000000",
            "input_ThirdPartyConversationID": caller_id(),
            "input_Country": "TZN",
        },
        headers=openapi.headers(session_id),
        timeout=5,
    )
    assert_ins(response, "INS-26", 401)


def test_a_session_with_an_activation_delay_is_refused_until_active(openapi: OpenApi) -> None:
    openapi.control("PATCH", "/config", {"openapi_session_activation_delay_s": 1.0})
    session_id = openapi.session_id()
    body = openapi.c2b_body()
    too_early = requests.post(
        openapi.url("c2bPayment/singleStage/"), json=body, headers=openapi.headers(session_id), timeout=5
    )
    assert_ins(too_early, "INS-26", 401)
    views = openapi.control("GET", "/openapi/sessions").json()
    assert [v["active"] for v in views] == [False]
    wait_until(lambda: [v["active"] for v in openapi.control("GET", "/openapi/sessions").json()] == [True])
    assert_ins(openapi.c2b(body), "INS-0", 201)


def test_sessions_are_scoped_to_the_environment(openapi: OpenApi) -> None:
    sandbox_session = openapi.session_id()
    response = requests.post(
        openapi.url("c2bPayment/singleStage/", environment="openapi"),
        json=openapi.c2b_body(),
        headers=openapi.headers(sandbox_session),
        timeout=5,
    )
    assert_ins(response, "INS-26", 401)
    production_session = openapi.new_session(environment="openapi")
    response = requests.post(
        openapi.url("c2bPayment/singleStage/", environment="openapi"),
        json=openapi.c2b_body(),
        headers=openapi.headers(production_session),
        timeout=10,
    )
    assert_ins(response, "INS-0", 201)


def test_the_encrypted_api_key_is_not_a_transaction_bearer(openapi: OpenApi) -> None:
    response = requests.post(
        openapi.url("b2cPayment/"),
        json=openapi.b2c_body(),
        headers={"Authorization": f"Bearer {openapi.encrypt(API_KEY)}", "Origin": "*"},
        timeout=5,
    )
    assert_ins(response, "INS-26", 401)
    no_bearer = requests.post(openapi.url("b2cPayment/"), json=openapi.b2c_body(), timeout=5)
    assert_ins(no_bearer, "INS-26", 401)
    assert openapi.transactions() == []


def test_session_views_do_not_show_whole_session_ids(openapi: OpenApi) -> None:
    session_id = openapi.session_id()
    views = openapi.control("GET", "/openapi/sessions").json()
    assert len(views) == 1
    assert views[0]["session_id_prefix"] == session_id[:6]
    assert session_id not in str(views)
    assert views[0]["environment"] == "sandbox"
    assert views[0]["market"] == "vodacomTZN"


def test_bearer_helper_encrypts_with_the_published_key(openapi: OpenApi) -> None:
    bearer = openapi.control("POST", "/openapi/bearer", {}).json()["bearer"]
    response = requests.get(
        openapi.url("getSession/"), headers={"Authorization": f"Bearer {bearer}", "Origin": "*"}, timeout=5
    )
    assert response.json()["output_ResponseCode"] == "INS-0"


@pytest.mark.parametrize(
    ("method", "suffix", "status"),
    [
        ("GET", "getSession", 404),  # trailing slash required, as in the real API
        ("POST", "c2bPayment/singleStage", 404),
        ("POST", "queryTransactionStatus/", 405),  # the status query is a GET
        ("POST", "reversal/", 405),  # the reversal is a PUT
        ("POST", "b2bPayment/", 404),  # not simulated
    ],
)
def test_routing_errors_have_no_ins_code(openapi: OpenApi, method: str, suffix: str, status: int) -> None:
    response = requests.request(method, openapi.url(suffix), headers=openapi.headers(), json={}, timeout=5)
    assert response.status_code == status
    assert set(response.json()) == {"output_error"}


def test_openapi_requests_are_in_the_request_journal(openapi: OpenApi, server: SimulatorServer) -> None:
    openapi.c2b()
    paths = [entry["path"] for entry in openapi.control("GET", "/requests").json()]
    assert paths == ["/sandbox/ipg/v2/vodacomTZN/getSession/", "/sandbox/ipg/v2/vodacomTZN/c2bPayment/singleStage/"]
    assert server.simulator.openapi.store.calls()[0].operation == "session"
