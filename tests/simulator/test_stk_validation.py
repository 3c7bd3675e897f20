"""STK push field validation: each bad field gets Daraja's error code and message."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.support.daraja_wire import Daraja, eat_timestamp, stk_password

PUSH = "/mpesa/stkpush/v1/processrequest"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"PhoneNumber": "0712345678"}, "Bad Request - Invalid PhoneNumber"),
        ({"PhoneNumber": "254812345678"}, "Bad Request - Invalid PhoneNumber"),
        ({"PartyA": "+254712345678"}, "Bad Request - Invalid PartyA"),
        ({"Amount": "10.5"}, "Bad Request - Invalid Amount"),
        ({"Amount": "10.00"}, "Bad Request - Invalid Amount"),
        ({"Amount": 0}, "Bad Request - Invalid Amount"),
        ({"Amount": True}, "Bad Request - Invalid Amount"),
        ({"Amount": 250_001}, "Bad Request - Invalid Amount"),
        ({"Timestamp": "2024-01-01 10:00:00"}, "Bad Request - Invalid Timestamp"),
        ({"Timestamp": "20241301100000"}, "Bad Request - Invalid Timestamp"),
        ({"TransactionType": "PayBill"}, "Bad Request - Invalid TransactionType"),
        ({"CallBackURL": "http://127.0.0.1:9/mpesa/callback"}, "Bad Request - Invalid CallBackURL"),
        (
            {"CallBackURL": "https://abc.execute-api.us-east-1.amazonaws.com/cb"},
            "Bad Request - Invalid CallBackURL",
        ),
        ({"CallBackURL": "https://example.com/SafariCom"}, "Bad Request - Invalid CallBackURL"),
        ({"CallBackURL": "https://example.com/cb?Query=1"}, "Bad Request - Invalid CallBackURL"),
        ({"CallBackURL": "ftp://example.com/cb"}, "Bad Request - Invalid CallBackURL"),
        ({"CallBackURL": "not a url"}, "Bad Request - Invalid CallBackURL"),
        ({"AccountReference": "ABCDEFGHIJKLM"}, "Bad Request - Invalid AccountReference"),
        ({"AccountReference": ""}, "Bad Request - Invalid AccountReference"),
        ({"TransactionDesc": "fourteen chars"}, "Bad Request - Invalid TransactionDesc"),
        ({"TransactionDesc": None}, "Bad Request - Invalid Remarks"),
        ({"PartyB": "abc"}, "Bad Request - Invalid PartyB"),
        ({"BusinessShortCode": "17437x"}, "Bad Request - Invalid BusinessShortCode"),
    ],
)
def test_invalid_field(daraja: Daraja, overrides: dict[str, Any], message: str) -> None:
    response = daraja.post(PUSH, daraja.stk_body(phone="254712345678", **overrides))
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["errorCode"] == "400.002.02"
    assert body["errorMessage"] == message
    assert body["requestId"]


def test_wrong_password_is_wrong_credentials(daraja: Daraja) -> None:
    body = daraja.stk_body(Password=stk_password(eat_timestamp(), passkey="wrong"))
    response = daraja.post(PUSH, body)
    assert response.status_code == 500
    assert response.json()["errorCode"] == "500.001.1001"
    assert response.json()["errorMessage"] == "Wrong credentials"


def test_password_built_from_another_timestamp_is_wrong(daraja: Daraja) -> None:
    body = daraja.stk_body(Password=stk_password("20240101000000"))
    assert daraja.post(PUSH, body).json()["errorMessage"] == "Wrong credentials"


def test_unknown_shortcode_is_merchant_does_not_exist(daraja: Daraja) -> None:
    response = daraja.post(PUSH, daraja.stk_body(BusinessShortCode="123456"))
    assert (response.status_code, response.json()["errorMessage"]) == (500, "Merchant does not exist")


def test_numbers_as_json_numbers_are_accepted(daraja: Daraja) -> None:
    body = daraja.stk_body(BusinessShortCode=174379, PartyB=174379, Amount="15", PartyA=254712345678)
    body["PhoneNumber"] = 254712345678
    assert daraja.post(PUSH, body).status_code == 200


def test_loopback_http_callback_is_allowed(daraja: Daraja) -> None:
    response = daraja.post(PUSH, daraja.stk_body(phone="254112345678", CallBackURL="http://127.0.0.1:8080/hooks/stk"))
    assert response.status_code == 200


def test_non_json_body_is_invalid_payload(daraja: Daraja) -> None:
    token = daraja.token()
    response = requests.post(
        f"{daraja.base}{PUSH}",
        data="{not json",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["errorCode"] == "400.002.05"
    assert response.json()["errorMessage"] == "Invalid request payload"


def test_json_array_body_is_invalid_payload(daraja: Daraja) -> None:
    response = daraja.post(PUSH, [daraja.stk_body()])
    assert response.json()["errorCode"] == "400.002.05"


def test_timestamp_skew_check_when_configured(daraja: Daraja) -> None:
    daraja.control("PATCH", "/config", {"timestamp_max_skew_s": 600})
    body = daraja.stk_body()
    stale = "20200101000000"
    body.update(Timestamp=stale, Password=stk_password(stale))
    assert daraja.post(PUSH, body).json()["errorMessage"] == "Bad Request - Invalid Timestamp"


def test_rejected_push_creates_nothing(daraja: Daraja) -> None:
    daraja.post(PUSH, daraja.stk_body(phone="254712345678", Amount="10.5"))
    assert daraja.control("GET", "/prompts?msisdn=254712345678").json() == []
