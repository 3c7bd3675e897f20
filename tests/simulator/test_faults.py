"""Injected faults: status bursts, slow answers that still take effect, malformed bodies, disconnects."""

from __future__ import annotations

import pytest
import requests

from tests.support.daraja_wire import SUCCESS_NUMBER, Daraja
from tests.support.receiver import CallbackReceiver

PUSH = "/mpesa/stkpush/v1/processrequest"
PENDING = "254712345678"


def pending_prompts(daraja: Daraja, phone: str = PENDING) -> list[dict[str, object]]:
    prompts: list[dict[str, object]] = daraja.control("GET", f"/prompts?msisdn={phone}").json()
    return prompts


def test_503_burst_then_success(daraja: Daraja) -> None:
    daraja.token()  # get the token before the burst: a "*" fault would hit OAuth too
    created = daraja.control("POST", "/faults", {"path": PUSH, "count": 2, "kind": "status", "status": 503})
    assert created.status_code == 201
    for _ in range(2):
        response = daraja.post(PUSH, daraja.stk_body(PENDING))
        assert response.status_code == 503
        assert "Incapsula incident ID" in response.text
        assert pending_prompts(daraja) == []  # not processed
    assert daraja.post(PUSH, daraja.stk_body(PENDING)).status_code == 200
    statuses = [entry["status"] for entry in daraja.control("GET", f"/requests?path={PUSH}").json()]
    assert statuses == [503, 503, 200]


def test_500_status_fault_has_daraja_error_body(daraja: Daraja) -> None:
    daraja.control("POST", "/faults", {"path": "*", "kind": "status", "status": 500})
    response = requests.get(
        f"{daraja.base}/oauth/v1/generate?grant_type=client_credentials",
        auth=("sim-consumer-key", "sim-consumer-secret"),
        timeout=5,
    )
    assert response.status_code == 500
    assert response.json()["errorCode"] == "500.003.1001"


def test_slow_fault_takes_effect_although_the_client_times_out(daraja: Daraja, receiver: CallbackReceiver) -> None:
    daraja.token()
    daraja.control("POST", "/faults", {"path": PUSH, "kind": "slow", "delay_s": 1.0})
    with pytest.raises(requests.exceptions.ReadTimeout):
        daraja.post(PUSH, daraja.stk_body(SUCCESS_NUMBER), timeout=(2, 0.2))
    # The push was processed: its callback arrives, and the request log shows it.
    callback = receiver.wait("/stk")[0].body["Body"]["stkCallback"]
    assert callback["ResultCode"] == 0
    logged = daraja.control("GET", f"/requests?path={PUSH}").json()
    assert [entry["status"] for entry in logged] == [200]


def test_malformed_without_processing(daraja: Daraja) -> None:
    daraja.control("POST", "/faults", {"path": PUSH, "kind": "malformed"})
    response = daraja.post(PUSH, daraja.stk_body(PENDING))
    assert response.status_code == 200
    with pytest.raises(requests.exceptions.JSONDecodeError):
        response.json()
    assert pending_prompts(daraja) == []


def test_malformed_after_processing(daraja: Daraja) -> None:
    daraja.control("POST", "/faults", {"path": PUSH, "kind": "malformed", "after_processing": True})
    response = daraja.post(PUSH, daraja.stk_body(PENDING))
    assert response.status_code == 200
    with pytest.raises(requests.exceptions.JSONDecodeError):
        response.json()
    assert len(pending_prompts(daraja)) == 1


def test_malformed_with_wrong_shape_body(daraja: Daraja) -> None:
    daraja.control(
        "POST",
        "/faults",
        {"path": PUSH, "kind": "malformed", "after_processing": True, "body": '{"unexpected": 1}'},
    )
    assert daraja.post(PUSH, daraja.stk_body(PENDING)).json() == {"unexpected": 1}


def test_disconnect(daraja: Daraja) -> None:
    daraja.token()
    daraja.control("POST", "/faults", {"path": PUSH, "kind": "disconnect", "after_processing": True})
    with pytest.raises(requests.exceptions.ConnectionError):
        daraja.post(PUSH, daraja.stk_body(PENDING))
    assert len(pending_prompts(daraja)) == 1


def test_faults_are_consumed_in_order_and_clearable(daraja: Daraja) -> None:
    daraja.token()
    daraja.control("POST", "/faults", {"path": PUSH, "kind": "status", "status": 502})
    daraja.control("POST", "/faults", {"path": PUSH, "kind": "status", "status": 504, "count": 3})
    assert daraja.post(PUSH, daraja.stk_body(PENDING)).status_code == 502
    assert daraja.post(PUSH, daraja.stk_body(PENDING)).status_code == 504
    assert [f["remaining"] for f in daraja.control("GET", "/faults").json()] == [2]
    daraja.control("DELETE", "/faults")
    assert daraja.post(PUSH, daraja.stk_body(PENDING)).status_code == 200


def test_fault_on_other_path_does_not_match(daraja: Daraja) -> None:
    daraja.control("POST", "/faults", {"path": "/mpesa/b2c/v3/paymentrequest", "kind": "status"})
    assert daraja.post(PUSH, daraja.stk_body(PENDING)).status_code == 200


def test_bad_fault_spec_is_400(daraja: Daraja) -> None:
    response = daraja.control("POST", "/faults", {"kind": "explode"})
    assert response.status_code == 400
    assert "kind" in response.json()["error"]


def test_the_request_log_names_the_fault_each_request_consumed(daraja: Daraja) -> None:
    daraja.token()
    created = daraja.control("POST", "/faults", {"path": PUSH, "kind": "status", "status": 429}).json()
    assert daraja.post(PUSH, daraja.stk_body(PENDING)).status_code == 429
    assert daraja.post(PUSH, daraja.stk_body(PENDING)).status_code == 200
    first, second = daraja.control("GET", f"/requests?path={PUSH}").json()
    assert first["fault"] == {
        "id": created["id"],
        "kind": "status",
        "status": 429,
        "delay_s": 5.0,
        "after_processing": False,
        "late_result": False,
        "id_field": "originator_conversation_id",
    }
    assert second["fault"] is None
