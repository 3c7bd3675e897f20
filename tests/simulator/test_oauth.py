"""OAuth and bearer tokens: issue, reject, expire, revoke."""

from __future__ import annotations

import time

import requests

from simulator import SimulatorServer
from tests.support.daraja_wire import Daraja, wait_until

PROTECTED = "/mpesa/stkpush/v1/processrequest"


def generate(base: str, **kwargs: object) -> requests.Response:
    return requests.get(f"{base}/oauth/v1/generate", timeout=5, **kwargs)  # type: ignore[arg-type]


def test_token_with_basic_auth_has_string_expires_in(daraja: Daraja) -> None:
    response = generate(
        daraja.base,
        params={"grant_type": "client_credentials"},
        auth=("sim-consumer-key", "sim-consumer-secret"),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["expires_in"] == "3599"
    assert len(body["access_token"]) == 28


def test_expires_in_can_be_a_number(daraja: Daraja) -> None:
    daraja.control("PATCH", "/config", {"expires_in_type": "number", "token_ttl_s": 120})
    body = generate(
        daraja.base,
        params={"grant_type": "client_credentials"},
        auth=("sim-consumer-key", "sim-consumer-secret"),
    ).json()
    assert body["expires_in"] == 120


def test_wrong_credentials_are_rejected(daraja: Daraja) -> None:
    response = generate(daraja.base, params={"grant_type": "client_credentials"}, auth=("sim-consumer-key", "nope"))
    assert response.status_code == 400
    assert response.json()["errorCode"] == "400.008.01"
    assert response.json()["requestId"]


def test_not_basic_auth_is_400_008_01(daraja: Daraja) -> None:
    response = generate(
        daraja.base, params={"grant_type": "client_credentials"}, headers={"Authorization": "Bearer abc"}
    )
    assert (response.status_code, response.json()["errorCode"]) == (400, "400.008.01")


def test_wrong_grant_type_is_400_008_02(daraja: Daraja) -> None:
    response = generate(
        daraja.base, params={"grant_type": "password"}, auth=("sim-consumer-key", "sim-consumer-secret")
    )
    assert (response.status_code, response.json()["errorCode"]) == (400, "400.008.02")


def test_missing_authorization_on_protected_route(daraja: Daraja) -> None:
    response = requests.post(f"{daraja.base}{PROTECTED}", json=daraja.stk_body(), timeout=5)
    assert response.status_code == 401
    assert response.json()["errorCode"] == "404.001.04"


def test_unknown_token_is_invalid_access_token(daraja: Daraja) -> None:
    response = daraja.post(PROTECTED, daraja.stk_body(), token="not-a-token")
    assert response.status_code == 401
    assert response.json()["errorCode"] == "404.001.03"
    assert response.json()["errorMessage"] == "Invalid Access Token"


def test_token_expires(daraja: Daraja) -> None:
    # A lifetime well above one round trip, so the first call is surely in time; then sleep past it.
    daraja.control("PATCH", "/config", {"token_ttl_s": 1})
    token = daraja.token()
    first = daraja.post(PROTECTED, daraja.stk_body(phone="254700000001"), token=token)
    assert first.status_code == 200
    time.sleep(1.2)
    expired = daraja.post(PROTECTED, daraja.stk_body(phone="254700000002"), token=token)
    assert (expired.status_code, expired.json()["errorCode"]) == (401, "404.001.03")


def test_revocation_invalidates_every_token(daraja: Daraja) -> None:
    daraja.control("PATCH", "/config", {"new_token_revokes_old": False})  # two live tokens
    old, new = daraja.token(), daraja.token()
    revoked = daraja.control("POST", "/tokens/revoke").json()
    assert revoked["revoked"] == 2
    for token in (old, new):
        response = daraja.post(PROTECTED, daraja.stk_body(), token=token)
        assert response.json()["errorCode"] == "404.001.03"


def test_new_token_keeps_old_one_valid_when_lenient(daraja: Daraja) -> None:
    daraja.control("PATCH", "/config", {"new_token_revokes_old": False})
    old = daraja.token()
    daraja.token()
    assert daraja.post(PROTECTED, daraja.stk_body(phone="254700000003"), token=old).status_code == 200


def test_new_token_revokes_the_apps_previous_one_by_default(daraja: Daraja) -> None:
    old = daraja.token()
    new = daraja.token()
    refused = daraja.post(PROTECTED, daraja.stk_body(phone="254700000004"), token=old)
    assert (refused.status_code, refused.json()["errorCode"]) == (401, "404.001.03")
    assert daraja.post(PROTECTED, daraja.stk_body(phone="254700000005"), token=new).status_code == 200


def test_wrong_method_is_405(daraja: Daraja) -> None:
    response = requests.get(f"{daraja.base}{PROTECTED}", timeout=5)
    assert response.status_code == 405
    assert response.json()["errorCode"] == "404.001.04"


def test_unknown_path_is_resource_not_found(daraja: Daraja) -> None:
    response = daraja.post("/mpesa/nothing/v1/here", {})
    assert (response.status_code, response.json()["errorCode"]) == (404, "404.001.01")


def test_reset_forgets_tokens(daraja: Daraja, server: SimulatorServer) -> None:
    token = daraja.token()
    server.reset()
    response = daraja.post(PROTECTED, daraja.stk_body(), token=token)
    assert response.status_code == 401
    wait_until(lambda: daraja.control("GET", "/health").json() == {"status": "ok"})


def test_fractional_ttl_is_reported_as_is(daraja: Daraja) -> None:
    daraja.control("PATCH", "/config", {"token_ttl_s": 0.3})
    body = generate(
        daraja.base, params={"grant_type": "client_credentials"}, auth=("sim-consumer-key", "sim-consumer-secret")
    ).json()
    assert body["expires_in"] == "0.3"
