"""Strict by default: what Daraja refuses, the simulator refuses (timestamps, tokens, callback URLs)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from simulator import SimulatorConfig
from simulator.clock import NAIROBI
from simulator.validation import url_problem
from tests.support.daraja_wire import B2C_SHORTCODE, SUCCESS_NUMBER, Daraja, stk_password

PUSH = "/mpesa/stkpush/v1/processrequest"
QUERY = "/mpesa/stkpushquery/v1/query"
PHONE = "254712345678"


def compact(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S")


def push_with_timestamp(daraja: Daraja, timestamp: str) -> Any:
    body = daraja.stk_body(PHONE, Timestamp=timestamp, Password=stk_password(timestamp))
    return daraja.post(PUSH, body)


# --- Timestamp: Nairobi time, within a window ---------------------------------------------------
@pytest.mark.parametrize(
    "moment",
    [
        pytest.param(lambda: datetime.now(tz=UTC), id="utc-clock-3h-behind"),
        pytest.param(lambda: datetime.now(tz=NAIROBI) - timedelta(days=1), id="a-day-old"),
        pytest.param(lambda: datetime.now(tz=NAIROBI) - timedelta(seconds=400), id="older-than-5-minutes"),
        pytest.param(lambda: datetime.now(tz=NAIROBI) + timedelta(seconds=400), id="5-minutes-ahead"),
    ],
)
def test_push_timestamp_outside_the_window_is_invalid(daraja: Daraja, moment: Callable[[], datetime]) -> None:
    response = push_with_timestamp(daraja, compact(moment()))
    assert response.status_code == 400
    assert response.json()["errorCode"] == "400.002.02"
    assert response.json()["errorMessage"] == "Bad Request - Invalid Timestamp"
    assert daraja.control("GET", f"/prompts?msisdn={PHONE}").json() == []


def test_push_timestamp_a_minute_old_in_nairobi_time_is_fine(daraja: Daraja) -> None:
    response = push_with_timestamp(daraja, compact(datetime.now(tz=NAIROBI) - timedelta(seconds=60)))
    assert response.status_code == 200, response.text


def test_query_with_a_utc_timestamp_is_invalid(daraja: Daraja) -> None:
    checkout = daraja.stk_push(PHONE)["CheckoutRequestID"]
    timestamp = compact(datetime.now(tz=UTC))
    response = daraja.post(
        QUERY,
        {
            "BusinessShortCode": "174379",
            "Password": stk_password(timestamp),
            "Timestamp": timestamp,
            "CheckoutRequestID": checkout,
        },
    )
    assert (response.status_code, response.json()["errorMessage"]) == (400, "Bad Request - Invalid Timestamp")
    assert daraja.stk_query(checkout).status_code == 200  # a Nairobi timestamp is answered


def test_lenient_mode_accepts_any_real_timestamp(daraja: Daraja) -> None:
    daraja.control("PATCH", "/config", {"timestamp_max_skew_s": None})
    assert push_with_timestamp(daraja, compact(datetime.now(tz=UTC))).status_code == 200


def test_timestamp_window_can_be_turned_off_from_the_environment() -> None:
    assert SimulatorConfig().timestamp_max_skew_s == 300
    assert SimulatorConfig.from_env({"SIMULATOR_TIMESTAMP_MAX_SKEW_S": "off"}).timestamp_max_skew_s is None
    assert SimulatorConfig.from_env({"SIMULATOR_TIMESTAMP_MAX_SKEW_S": "60"}).timestamp_max_skew_s == 60


# --- callback URLs: every API that takes one ----------------------------------------------------
def stk(daraja: Daraja, url: str) -> tuple[str, dict[str, Any], str]:
    return PUSH, daraja.stk_body(PHONE, CallBackURL=url), "CallBackURL"


def b2c_result(daraja: Daraja, url: str) -> tuple[str, dict[str, Any], str]:
    return "/mpesa/b2c/v3/paymentrequest", daraja.b2c_body(ResultURL=url), "ResultURL"


def b2c_timeout(daraja: Daraja, url: str) -> tuple[str, dict[str, Any], str]:
    return "/mpesa/b2c/v1/paymentrequest", daraja.b2c_body(ocid=None, QueueTimeOutURL=url), "QueueTimeOutURL"


def status(daraja: Daraja, url: str) -> tuple[str, dict[str, Any], str]:
    body = daraja.initiator_body(
        CommandID="TransactionStatusQuery", TransactionID="TC00000000", PartyA=B2C_SHORTCODE, IdentifierType="4"
    )
    body["ResultURL"] = url
    return "/mpesa/transactionstatus/v1/query", body, "ResultURL"


def balance(daraja: Daraja, url: str) -> tuple[str, dict[str, Any], str]:
    body = daraja.initiator_body(CommandID="AccountBalance", PartyA=B2C_SHORTCODE, IdentifierType="4")
    body["QueueTimeOutURL"] = url
    return "/mpesa/accountbalance/v1/query", body, "QueueTimeOutURL"


def reversal(daraja: Daraja, url: str) -> tuple[str, dict[str, Any], str]:
    body = daraja.initiator_body(
        CommandID="TransactionReversal",
        TransactionID="TC00000000",
        Amount=10,
        ReceiverParty="174379",
        RecieverIdentifierType="11",
    )
    body["ResultURL"] = url
    return "/mpesa/reversal/v1/request", body, "ResultURL"


def c2b_confirmation(daraja: Daraja, url: str) -> tuple[str, dict[str, Any], str]:
    body = {
        "ShortCode": "600997",
        "ResponseType": "Completed",
        "ConfirmationURL": url,
        "ValidationURL": f"{daraja.callbacks}/c2b/validation",
    }
    return "/mpesa/c2b/v2/registerurl", body, "ConfirmationURL"


def c2b_validation(daraja: Daraja, url: str) -> tuple[str, dict[str, Any], str]:
    body = {
        "ShortCode": "600997",
        "ResponseType": "Completed",
        "ConfirmationURL": f"{daraja.callbacks}/c2b/confirmation",
        "ValidationURL": url,
    }
    return "/mpesa/c2b/v1/registerurl", body, "ValidationURL"


def pull(daraja: Daraja, url: str) -> tuple[str, dict[str, Any], str]:
    body = {"ShortCode": "600997", "RequestType": "Pull", "NominatedNumber": SUCCESS_NUMBER, "CallBackURL": url}
    return "/pulltransactions/v1/register", body, "CallBackURL"


APIS = [stk, b2c_result, b2c_timeout, status, balance, reversal, c2b_confirmation, c2b_validation, pull]
REFUSED_URLS = [
    "https://abc123.ngrok-free.app/hooks",
    "https://mockbin.org/bin/5f0c",
    "https://eo1x.m.requestbin.com/hooks",
    "https://abc.execute-api.eu-west-1.amazonaws.com/hooks",
    "https://pay.example.com/tools/run.EXE",
    "https://pay.example.com/Cmd/hooks",
    "https://pay.example.com/hooks?QUERY=1",
    "https://pay.example.com/M-Pesa/hooks",
]


@pytest.mark.parametrize("api", APIS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("url", REFUSED_URLS)
def test_every_url_field_refuses_what_daraja_refuses(daraja: Daraja, api: Any, url: str) -> None:
    path, body, field = api(daraja, url)
    response = daraja.post(path, body)
    assert response.status_code == 400, response.text
    assert response.json()["errorCode"] == "400.002.02"
    assert response.json()["errorMessage"] == f"Bad Request - Invalid {field}"


@pytest.mark.parametrize("api", APIS, ids=lambda f: f.__name__)
def test_every_url_field_accepts_plain_http_on_loopback(daraja: Daraja, api: Any) -> None:
    path, body, _ = api(daraja, "http://127.0.0.1:9/hooks/cb")
    response = daraja.post(path, body)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("http://localhost:3000/hooks/stk", True),
        ("https://pay.example.com/payments/hook", True),
        ("https://x.NGROK.io/cb", False),
        ("https://ngrok.app.example/cb", False),
        ("https://mockbin.io/cb", False),
        ("https://requestbin.net/r/1", False),
        ("https://pay.example.com/executive", False),  # "exe" anywhere, like Safaricom's filter
        ("https://pay.example.com/app.exe", False),
        ("https://pay.example.com/sqlite/cb", False),
        ("https://safaricom-pay.example.com/cb", False),
        ("https://pay.example.com/mpesa/cb", False),
        ("https://pay.example.com/m-pesa/cb", False),
        ("https://pay.example.com/cb?query=1", False),
    ],
)
def test_url_rules(url: str, ok: bool) -> None:
    assert (url_problem(url) is None) is ok
